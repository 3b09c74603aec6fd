#!/usr/bin/env node
// The installed command runs the compiled service (npm run build writes dist/).
import '../dist/src/main.js';
