# syntax=docker/dockerfile:1
#
# The stream processor as a container: `docker build -t stream-processor .`
# The entry command is the same CLI as `npx stream-processor`; arguments after
# the image name replace the default `--config /app/config/kafka.yaml`, e.g.
#   docker run --rm stream-processor --validate --config /app/config/kafka.yaml
# Brokers come from the environment: -e PROCESSOR_KAFKA_BROKERS=kafka:9092.

# ---- build: compile TypeScript (tsc → dist/) with the dev dependencies ----
FROM node:20-slim AS build
WORKDIR /app
# Manifests first, so the dependency layer is reused while only sources change
# (operators/ is an npm workspace: npm ci needs its manifest too).
COPY package.json package-lock.json ./
COPY operators/package.json ./operators/
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY operators ./operators
RUN npm run build

# ---- deps: production dependencies only, installed apart from the build's ----
# (level's native binding ships prebuilt inside the npm package for glibc
# x64/arm64, so the slim image needs no compiler here.)
FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY operators/package.json ./operators/
RUN npm ci --omit=dev && npm cache clean --force

# ---- runtime ----
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The operators package: node_modules/@llm-feedback/stream-operators links to it.
COPY operators/package.json ./operators/
COPY --from=build /app/operators/dist ./operators/dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
# The LevelDB state directory must exist and belong to the unprivileged `node`
# user (uid 1000, from the base image) before VOLUME: a fresh named volume is
# initialised from the image's directory, ownership included, and changes made
# after VOLUME would be discarded.
RUN mkdir -p /app/data/state && chown -R node:node /app/data
USER node
VOLUME ["/app/data/state"]
# /metrics, /healthz, /readyz, /windows (processor.metrics.port).
EXPOSE 9464
# Exec form: node is PID 1 and receives SIGTERM directly, so the processor can
# take its final checkpoint on `docker stop` / pod termination.
ENTRYPOINT ["node", "bin/stream-processor.js"]
CMD ["--config", "/app/config/kafka.yaml"]
