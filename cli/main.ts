#!/usr/bin/env node
/**
 * `fedctl`: start a node, or speak to one as a hidden node with the cluster cookie.
 * Conventions of etcdctl and consul: table output for people, `--json` for scripts, flags with
 * `FEDCTL_*` environment variables, one-line errors on stderr, documented exit codes.
 *
 * Every error, commander's usage errors included, is one line `fedctl: <code>: <message>
 * (<hint>)` on stderr, or with `--json` one object `{"error": {code, message, hint?}}`.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { CliError, EXIT, EXIT_CODES_HELP, exitCodeFor } from './exit-codes.js';
import { consoleOutput, reportError, type Output } from './output.js';
import { fedError, isFedError } from '../runtime/index.js';
import { registerClientCommands } from './client-commands.js';
import { registerStartCommand } from './start.js';
import { registerDemoCommand } from './demo.js';
import { registerTopCommand } from './top.js';
import { collect, envBoolean } from './env.js';
import { TRANSPORT_KINDS, type TransportKind } from './config.js';

/** Where the CLI looks for a node when neither --node nor FEDCTL_NODE says: `fedctl start`'s default --listen. */
export const NODE_DEFAULT = '127.0.0.1:4370';

export interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  node: string;
  transport: TransportKind;
  dhtBootstrap?: string[];
  cookie?: string;
  cookieFile?: string;
  timeout: string;
}

export function buildProgram(run: (action: (output: Output) => Promise<number | void>) => Promise<void>): Command {
  const program = new Command('fedctl')
    .description('Erlang-style processes and Raft-replicated global names for Node.js services')
    .addOption(new Option('--json', 'machine-readable JSON output [env FEDCTL_JSON=1]'))
    .addOption(new Option('--debug', 'print stack traces with errors [env FEDCTL_DEBUG=1]'))
    .addOption(new Option('--node <address>', 'the node to talk to: host:port, or its public key with --transport hyperswarm').env('FEDCTL_NODE').default(NODE_DEFAULT))
    .addOption(
      new Option('--transport <kind>', 'how nodes are linked (fedctl start) and reached (the other commands); hyperswarm needs --dht-bootstrap')
        .choices([...TRANSPORT_KINDS])
        .env('FEDCTL_TRANSPORT')
        .default('tcp'),
    )
    .addOption(new Option('--dht-bootstrap <host:port>', 'a DHT bootstrap node for hyperswarm (repeatable; required with it: fedctl never uses the public DHT) [env FEDCTL_DHT_BOOTSTRAP, comma list]').argParser(collect))
    .addOption(new Option('--cookie <cookie>', 'the cluster cookie').env('FEDCTL_COOKIE'))
    .addOption(new Option('--cookie-file <path>', 'file holding the cookie (default ~/.fedctl/cookie)').env('FEDCTL_COOKIE_FILE'))
    .addOption(new Option('--timeout <ms>', 'how long to wait for an answer').env('FEDCTL_TIMEOUT').default('5000'))
    .addHelpText('after', `\n${EXIT_CODES_HELP}`)
    .showSuggestionAfterError(true)
    .exitOverride();
  // Commander's own error lines are replaced by ours (see main); help still goes to stdout.
  program.configureOutput({ writeErr: (text) => process.stderr.write(text), outputError: () => undefined });
  registerStartCommand(program, run);
  registerClientCommands(program, run);
  registerDemoCommand(program, run);
  registerTopCommand(program, run);
  return program;
}

/** --json / --debug: the flag, else FEDCTL_JSON / FEDCTL_DEBUG as a boolean (1/0, true/false, …). */
function outputFlags(globals: GlobalOptions): { json: boolean; debug: boolean } {
  return { json: globals.json ?? envBoolean('FEDCTL_JSON') ?? false, debug: globals.debug ?? envBoolean('FEDCTL_DEBUG') ?? false };
}

export async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(async (action) => {
    let output = consoleOutput(false, false);
    try {
      const flags = outputFlags(program.opts<GlobalOptions>());
      output = consoleOutput(flags.json, flags.debug);
      const code = await action(output);
      exitCode = typeof code === 'number' ? code : EXIT.ok;
    } catch (error) {
      reportError(output, error, hintFor(error));
      exitCode = exitCodeFor(error);
    }
  });
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
      const usage = new CliError('usage', error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim(), EXIT.usage, { cause: error });
      reportError(consoleOutput(wantsJson(argv), argv.includes('--debug')), usage, 'see fedctl --help');
      return EXIT.usage;
    }
    throw error;
  }
  return exitCode;
}

/** For errors commander raises before options are parsed: is JSON wanted? */
function wantsJson(argv: readonly string[]): boolean {
  if (argv.includes('--json')) return true;
  try {
    return envBoolean('FEDCTL_JSON') ?? false;
  } catch {
    return false;
  }
}

function hintFor(error: unknown): string | undefined {
  if (error instanceof CliError) return error.code === 'compacted' ? 're-read with fedctl names, then watch again from now' : undefined;
  if (!isFedError(error)) return undefined;
  switch (error.code) {
    case 'auth_failed':
      return 'check --cookie / FEDCTL_COOKIE / the cookie file';
    case 'nodedown':
    case 'timeout':
      return `is the node running? check --node / FEDCTL_NODE (default ${NODE_DEFAULT})`;
    case 'config':
    case 'badarg':
      return 'see fedctl --help';
    case 'name_taken':
      return 'the name is held: unregister it first (fedctl unregister NAME), or pick another name';
    case 'not_found':
      return 'list what exists with fedctl names (or members, groups)';
    case 'overloaded':
      return 'the group is refusing work for now: fedctl already retried with backoff; retry later or slow down';
    case 'unavailable':
      return 'no quorum or no route yet: check fedctl status and fedctl groups';
    default:
      return undefined;
  }
}

/** Number parsing for flags: a usage error naming the flag. */
export function parsePositiveInt(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw fedError('config', `${flag} wants a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

/**
 * True when this file is the program being run. Through npm's `.bin/fedctl` symlink (or any
 * link), `process.argv[1]` is the link's path, so both sides are compared as real paths.
 */
export function isEntryPoint(script: string | undefined, moduleUrl: string): boolean {
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

if (isEntryPoint(process.argv[1], import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`fedctl: error: ${(error as Error).message}\n`);
      process.exitCode = EXIT.error;
    },
  );
}
