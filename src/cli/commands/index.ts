import type { Command } from "commander";

/** Every `thor` subcommand: one module each, registering itself on the program. */
export const commands: ReadonlyArray<(program: Command) => void> = [];
