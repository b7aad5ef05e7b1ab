#!/usr/bin/env -S node --single-threaded-gc
// The `namestack` program: one subcommand per tool. Each command lives in its own module,
// loaded only when used, which exports `run(args): Promise<number>` (the exit status).
// Adding a command is one line in COMMANDS.

interface CommandModule {
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  lab: { summary: 'build, inspect and impair the embedded network lab', load: () => import('./lab/command.js') },
  host: { summary: 'run the stack on TUN devices and serve the control socket', load: () => import('./host/command.js') },
  connect: { summary: 'open a TCP connection through the daemon and pipe stdin/stdout (like nc)', load: () => import('./client/connect.js') },
  listen: { summary: 'listen on a TCP port of the daemon; pipe or --exec per connection', load: () => import('./client/listen.js') },
  stats: { summary: "show the daemon's interfaces, counters, routes and connections", load: () => import('./client/stats.js') },
  perf: { summary: 'iperf3-compatible client and server (-s / -c HOST) over namestack or kernel TCP', load: () => import('./perf/command.js') },
  demo: { summary: 'bring up the lab and show namestack at work, step by step', load: () => import('./demo/command.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: namestack <command> [arguments]\n\ncommands:\n${lines.join('\n')}\n\n'namestack <command> --help' describes a command.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return 0;
  }
  const command = name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    if (name !== undefined) process.stderr.write(`namestack: unknown command '${name}'\n`);
    process.stderr.write(usage());
    return 2;
  }
  try {
    return await (await command.load()).run(args);
  } catch (err) {
    process.stderr.write(`namestack ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
