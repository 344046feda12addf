import { Command, CommanderError } from "commander";
import { describeError } from "../base/index.js";
import { ConfigError } from "./config.js";
import { commandsFor } from "./commands/index.js";
import { VERSION } from "./version.js";

/**
 * The `thor` command: the only composition root. Each subcommand lives in
 * `commands/<name>.ts` and registers itself on the program; only the named
 * one is loaded.
 */
export async function main(argv: string[]): Promise<number> {
  const program = new Command("thor")
    .description("sipthor: a self-organizing, horizontally scalable SIP platform")
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError();
  try {
    for (const register of await commandsFor(argv)) register(program);
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ConfigError) {
      process.stderr.write(`thor: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`thor: ${describeError(err)}\n`);
    return 1;
  }
}
