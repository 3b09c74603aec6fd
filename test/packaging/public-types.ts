/**
 * "Every type used in a public signature is exported" (issue 12), checked on the
 * compiled declarations: a user must be able to name, by import, each type that an
 * exported function, class, interface or alias mentions.
 */
import ts from 'typescript';

/** Names of the package's own types that exported declarations of `entry` (a .d.ts) mention but `entry` does not export. */
export function unexportedPublicTypes(entry: string, packageRoot: string): string[] {
  const program = ts.createProgram([entry], { noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext });
  const checker = program.getTypeChecker();
  const entryModule = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  const resolve = (symbol: ts.Symbol): ts.Symbol => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);
  const exported = new Set(checker.getExportsOfModule(entryModule).map(resolve));
  const ours = (declaration: ts.Declaration): boolean => {
    const file = declaration.getSourceFile().fileName;
    // Under the package, but not in a dependency of it (the package itself sits in the app's node_modules).
    return file.startsWith(packageRoot) && !file.slice(packageRoot.length).includes('/node_modules/');
  };

  const missing = new Set<string>();
  const visit = (node: ts.Node): void => {
    const name = ts.isTypeReferenceNode(node) ? node.typeName : ts.isExpressionWithTypeArguments(node) ? node.expression : ts.isTypeQueryNode(node) ? node.exprName : undefined;
    if (name !== undefined) {
      const symbol = checker.getSymbolAtLocation(name);
      const target = symbol === undefined ? undefined : resolve(symbol);
      const declaration = target?.declarations?.[0];
      // Type parameters and members of a namespace the user reaches through it are not separate exports.
      if (target !== undefined && declaration !== undefined && !(target.flags & ts.SymbolFlags.TypeParameter) && ours(declaration) && !exported.has(target)) {
        missing.add(`${target.name} (${declaration.getSourceFile().fileName.slice(packageRoot.length + 1)})`);
      }
    }
    ts.forEachChild(node, visit);
  };
  for (const symbol of exported) for (const declaration of symbol.declarations ?? []) if (ours(declaration)) visit(declaration);
  return [...missing].sort();
}
