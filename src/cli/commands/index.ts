import type { Command } from "commander";
import { register as ca } from "./ca.js";
import { register as eventserver } from "./eventserver.js";
import { register as manager } from "./manager.js";
import { register as node } from "./node.js";
import { register as database } from "./database.js";
import { register as monitor } from "./monitor.js";
import { register as demo } from "./demo.js";
import { register as lookup } from "./lookup.js";
import { register as sip } from "./sip.js";
import { register as dns } from "./dns.js";
import { register as provision } from "./provision.js";
import { register as location } from "./location.js";
import { register as check } from "./check.js";
import { register as drain } from "./drain.js";
import { register as dashboard } from "./dashboard.js";

/** Every `thor` subcommand: one module each, registering itself on the program. */
export const commands: ReadonlyArray<(program: Command) => void> = [ca, eventserver, manager, node, database, monitor, lookup, location, sip, demo, dns, provision, check, drain, dashboard];
