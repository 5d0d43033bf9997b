#!/usr/bin/env node
/**
 * `fedctl`: start a node, or speak to one as a hidden node with the cluster cookie.
 * Conventions of etcdctl and consul: table output for people, `--json` for scripts, flags with
 * `FEDCTL_*` environment variables, one-line errors on stderr, documented exit codes.
 */
import { Command, CommanderError, Option } from 'commander';
import { EXIT, EXIT_CODES_HELP, exitCodeFor } from './exit-codes.js';
import { consoleOutput, reportError, type Output } from './output.js';
import { fedError, isFedError } from '../runtime/index.js';
import { registerClientCommands } from './client-commands.js';
import { registerStartCommand } from './start.js';
import { registerDemoCommand } from './demo.js';
import { registerTopCommand } from './top.js';

export interface GlobalOptions {
  json: boolean;
  debug: boolean;
  node?: string;
  cookie?: string;
  cookieFile?: string;
  timeout: string;
}

export function buildProgram(run: (action: (output: Output) => Promise<number | void>) => Promise<void>): Command {
  const program = new Command('fedctl')
    .description('Erlang-style processes and Raft-replicated global names for Node.js services')
    .addOption(new Option('--json', 'machine-readable JSON output').env('FEDCTL_JSON').default(false))
    .addOption(new Option('--debug', 'print stack traces with errors').env('FEDCTL_DEBUG').default(false))
    .addOption(new Option('--node <host:port>', 'the node to talk to').env('FEDCTL_NODE'))
    .addOption(new Option('--cookie <cookie>', 'the cluster cookie').env('FEDCTL_COOKIE'))
    .addOption(new Option('--cookie-file <path>', 'file holding the cookie (default ~/.fedctl/cookie)').env('FEDCTL_COOKIE_FILE'))
    .addOption(new Option('--timeout <ms>', 'how long to wait for an answer').env('FEDCTL_TIMEOUT').default('5000'))
    .addHelpText('after', `\n${EXIT_CODES_HELP}`)
    .showSuggestionAfterError(true)
    .exitOverride();
  program.configureOutput({ writeErr: (text) => process.stderr.write(text) });
  registerStartCommand(program, run);
  registerClientCommands(program, run);
  registerDemoCommand(program, run);
  registerTopCommand(program, run);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(async (action) => {
    const globals = program.opts<GlobalOptions>();
    const output = consoleOutput(Boolean(globals.json), Boolean(globals.debug));
    try {
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
      return EXIT.usage;
    }
    throw error;
  }
  return exitCode;
}

function hintFor(error: unknown): string | undefined {
  if (!isFedError(error)) return undefined;
  switch (error.code) {
    case 'auth_failed':
      return 'check --cookie / FEDCTL_COOKIE / the cookie file';
    case 'nodedown':
    case 'timeout':
      return 'is the node running? check --node / FEDCTL_NODE';
    case 'config':
    case 'badarg':
      return 'see fedctl --help';
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

const isEntryPoint = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntryPoint || process.argv[1]?.endsWith('/cli/main.js')) {
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
