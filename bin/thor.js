#!/usr/bin/env node
// Entry point of the `thor` command: runs the compiled CLI (npm run build).
import { main } from "../dist/src/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
// Once a command has finished, a handle left open (a socket in TIME_WAIT, a
// watcher) must not keep the process alive; logs are flushed by then.
setTimeout(() => process.exit(), 1000).unref();
