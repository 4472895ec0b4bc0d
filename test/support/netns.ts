/**
 * Simulated networks out of Linux network namespaces, for tests that need
 * real NATs (root only; iproute2 and nftables).
 *
 * One "public" namespace holds a bridge, the Internet of the test
 * (198.18.0.0/24, the public namespace itself at 198.18.0.1). On it sit:
 *
 * - "open" hosts, each in a namespace of its own with one public address
 *   (198.18.0.101, .102, ...): no NAT at all;
 * - "homes": a host namespace at 198.19.0.2 in 198.19.0.0/24 (the same
 *   subnet and the same address in every home, as real homes have), behind a
 *   router namespace (LAN 198.19.0.1, WAN 198.18.0.11, .12, ...) that
 *   masquerades toward the bridge and drops unsolicited packets from it, as a
 *   home router's firewall does.
 *
 * Only addresses in 198.18.0.0/15 (the benchmarking range) are used. Every
 * namespace is named `rtcnat-<pid>-<random>-<role>`, with the pid of the
 * process that made it, so a later run can tell and remove what a crashed
 * one left behind ({@link removeStaleNetworks}). Interfaces are created
 * inside the namespaces (never in the root namespace), so their short names
 * (`wan`, `lan`, `eth0`, `inet0`, `v1`...) cannot collide with the machine's or
 * another run's, and deleting the namespaces deletes them.
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

/** How a home's router maps its hosts' UDP flows to its WAN address. */
export type NatKind =
  /** `masquerade random`: a new, random port for every destination (address-and-port-dependent mapping). */
  | 'symmetric'
  /** plain `masquerade`: the host's port kept toward every destination (endpoint-independent mapping). */
  | 'endpoint-independent';

export interface NetworkPlan {
  /** Homes behind a NAT of their own, by name (e.g. `{ home1: 'symmetric' }`). */
  homes?: Record<string, NatKind>;
  /** Hosts with a public address and no NAT. */
  open?: readonly string[];
}

const PREFIX = 'rtcnat-';
const IP = '/usr/sbin/ip';
const NFT = '/usr/sbin/nft';
const SYSCTL = '/usr/sbin/sysctl';
const SETPRIV = '/usr/bin/setpriv';

/**
 * `argv` so that the process gets SIGKILL when the one that started it dies
 * (util-linux's `setpriv --pdeathsig`): a test killed midway leaves nothing
 * running. As is where setpriv is missing.
 */
export function dieWithParent(argv: readonly string[]): string[] {
  return existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'KILL', ...argv] : [...argv];
}

export const PUBLIC_ADDRESS = '198.18.0.1';
export const HOME_ADDRESS = '198.19.0.2';
const HOME_GATEWAY = '198.19.0.1';
const PUBLIC_PREFIX = 24;
const HOME_PREFIX = 24;

/** Runs a command; resolves with its stdout, rejects with its stderr (and `input` written to its stdin). */
export function run(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} failed (${code ?? signal}): ${err.trim() || out.trim()}`));
    });
    if (input !== undefined) {
      child.stdin?.on('error', () => undefined); // a command that exits early is reported by its exit code
      child.stdin?.end(input);
    }
  });
}

/**
 * Throws a clear error unless this process can build networks: root, and
 * `ip`, `nft` at hand. Call it first, so a machine without them fails with
 * the reason rather than in the middle of a setup.
 */
export function assertNetworkCapable(): void {
  if (process.getuid?.() !== 0)
    throw new Error('NAT tests build network namespaces and need root (CI runs as root): run them as root');
  for (const tool of [IP, NFT, SYSCTL]) {
    try {
      execFileSync(tool, ['-V'], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is missing: install iproute2, nftables and procps (scripts/install-system-deps.sh)`);
    }
  }
}

/** The namespaces `ip netns list` shows. */
async function listNamespaces(): Promise<string[]> {
  const out = await run(IP, ['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills what still runs inside a namespace, then deletes it. Never throws. */
async function removeNamespace(name: string): Promise<void> {
  const pids = await run(IP, ['netns', 'pids', name]).catch(() => '');
  for (const pid of pids.split('\n').map(Number).filter(Number.isInteger)) {
    if (pid > 0)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
  }
  await run(IP, ['netns', 'delete', name]).catch(() => undefined);
}

/**
 * Deletes the namespaces of this module's naming whose owning process is
 * gone (a crashed or killed earlier run), with whatever still ran in them.
 * Returns their names.
 */
export async function removeStaleNetworks(): Promise<string[]> {
  const stale = (await listNamespaces()).filter((name) => {
    if (!name.startsWith(PREFIX)) return false;
    const owner = Number(name.slice(PREFIX.length).split('-')[0]);
    return !(Number.isInteger(owner) && owner > 0 && alive(owner));
  });
  await Promise.all(stale.map(removeNamespace));
  return stale;
}

/** What one machine of the network is. */
export interface Machine {
  /** The name the plan gave it (`home1`), or `public`, or `<home>-router`. */
  name: string;
  /** The namespace (`rtcnat-1234-ab12cd-home1`). */
  ns: string;
  /** Its address: public for open hosts, the routers' WAN side and the public namespace; 198.19.0.2 in homes. */
  address: string;
}

/** A network built by {@link createNetwork}. Tear it down with {@link Network.destroy}. */
export interface Network {
  /** `<pid>-<random>`, in every namespace's name. */
  id: string;
  public: Machine;
  machines: Map<string, Machine>;
  /** A machine by name; throws for a name not in the plan. */
  machine(name: string): Machine;
  /** The public address a home's router shows the world. */
  wanAddress(home: string): string;
  /**
   * Starts `command` inside `name`'s namespace (`ip netns exec`); the process is killed by {@link destroy},
   * and dies with this one ({@link dieWithParent}).
   */
  spawn(name: string, command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Runs a command inside `name`'s namespace and resolves with its stdout. */
  exec(name: string, command: string, args: readonly string[], input?: string): Promise<string>;
  /** The layout, one line a machine, for logs. */
  describe(): string;
  /** Kills every process it started, deletes every namespace. Safe to call twice. */
  destroy(): Promise<void>;
}

/** The router's ruleset: NAT toward `wan`, and a firewall that drops what nobody inside asked for. */
function routerRuleset(kind: NatKind): string {
  const masquerade = kind === 'symmetric' ? 'masquerade random' : 'masquerade';
  // Dropping unsolicited packets in `input` matters for the endpoint-independent NAT: a packet
  // accepted there would leave a conntrack entry that clashes with the host's own mapping toward the
  // same peer, and the NAT would then pick another port for it (dropped, the entry is never confirmed).
  // Without these drops two such homes met through the relay in 3 runs of 3, not over srflx.
  return `
table ip nat {
  chain post {
    type nat hook postrouting priority 100; policy accept;
    oifname "wan" ${masquerade}
  }
}
table ip filter {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }
}
`;
}

/**
 * Builds the network `plan` describes (see the module's comment). Removes
 * stale networks of earlier runs first. On any failure it deletes what it
 * made and rethrows.
 */
export async function createNetwork(plan: NetworkPlan): Promise<Network> {
  assertNetworkCapable();
  await removeStaleNetworks();
  const id = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const nsOf = (name: string) => `${PREFIX}${id}-${name}`;
  const machines = new Map<string, Machine>();
  const children = new Set<ChildProcess>();
  const created: string[] = [];
  const homes = Object.entries(plan.homes ?? {});
  const open = plan.open ?? [];
  const wan = new Map<string, string>();
  for (const name of [...homes.map(([home]) => home), ...open]) {
    if (!/^[a-z][a-z0-9]{0,15}$/.test(name) || name === 'public' || name.endsWith('router'))
      throw new Error(`machine name ${name}: lowercase letters and digits, not "public" nor "...router"`);
  }

  const ip = (...args: string[]) => run(IP, args);
  const addNamespace = async (name: string, address: string, router = false) => {
    const ns = nsOf(name);
    await ip('netns', 'add', ns);
    created.push(ns);
    machines.set(name, { name, ns, address });
    await ip('-n', ns, 'link', 'set', 'dev', 'lo', 'up');
    // No IPv6 (no link-local candidates, no duplicate address detection); routers forward.
    const settings = ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];
    if (router) settings.push('net.ipv4.ip_forward=1');
    await run(IP, ['netns', 'exec', ns, SYSCTL, '-q', '-w', ...settings]);
    return ns;
  };
  /** A veth pair: `inside` in `ns` with `address`, `port` in the public namespace on the bridge. */
  const plugIn = async (ns: string, inside: string, address: string, port: string) => {
    const pub = nsOf('public');
    await ip('-n', ns, 'link', 'add', 'name', inside, 'type', 'veth', 'peer', 'name', port, 'netns', pub);
    await ip('-n', pub, 'link', 'set', 'dev', port, 'master', 'inet0', 'up');
    await ip('-n', ns, 'addr', 'add', `${address}/${PUBLIC_PREFIX}`, 'dev', inside);
    await ip('-n', ns, 'link', 'set', 'dev', inside, 'up');
  };

  const network: Network = {
    id,
    get public() {
      return network.machine('public');
    },
    machines,
    machine(name) {
      const found = machines.get(name);
      if (!found) throw new Error(`no machine ${name} in this network (${[...machines.keys()].join(', ')})`);
      return found;
    },
    wanAddress(home) {
      const found = wan.get(home);
      if (!found) throw new Error(`${home} is not a home of this network`);
      return found;
    },
    spawn(name, command, args, options = {}) {
      const argv = ['netns', 'exec', network.machine(name).ns, ...dieWithParent([command, ...args])];
      const child = spawn(IP, argv, options);
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    exec(name, command, args, input) {
      return run(IP, ['netns', 'exec', network.machine(name).ns, command, ...args], input);
    },
    describe() {
      return [...machines.values()]
        .map(({ name, ns, address }) => {
          const home = wan.get(name);
          return `${name.padEnd(14)} ${address.padEnd(14)}${home ? ` behind NAT ${home} (${plan.homes?.[name]})` : ''}  [${ns}]`;
        })
        .join('\n');
    },
    async destroy() {
      process.off('exit', destroySync);
      await Promise.all(
        [...children].map(async (child) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await exited;
        }),
      );
      // Routers and hosts first, the public namespace (the bridge) last.
      await Promise.all(created.slice(1).map(removeNamespace));
      if (created[0]) await removeNamespace(created[0]);
      created.length = 0;
    },
  };
  /** If the test process ends without destroy (a crash), the namespaces go with it anyway. */
  function destroySync(): void {
    for (const child of children) child.kill('SIGKILL');
    for (const ns of created.reverse()) {
      try {
        execFileSync(IP, ['netns', 'delete', ns], { stdio: 'ignore' });
      } catch {
        // best effort: removeStaleNetworks catches the rest next time
      }
    }
  }
  process.once('exit', destroySync);

  try {
    const pub = await addNamespace('public', PUBLIC_ADDRESS);
    await ip('-n', pub, 'link', 'add', 'name', 'inet0', 'type', 'bridge');
    await ip('-n', pub, 'addr', 'add', `${PUBLIC_ADDRESS}/${PUBLIC_PREFIX}`, 'dev', 'inet0');
    await ip('-n', pub, 'link', 'set', 'dev', 'inet0', 'up');
    let port = 0;
    for (const [index, [home, kind]] of homes.entries()) {
      const wanAddress = `198.18.0.${11 + index}`;
      const router = await addNamespace(`${home}-router`, wanAddress, true);
      await plugIn(router, 'wan', wanAddress, `v${++port}`);
      const host = await addNamespace(home, HOME_ADDRESS);
      await ip('-n', router, 'link', 'add', 'name', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host);
      await ip('-n', router, 'addr', 'add', `${HOME_GATEWAY}/${HOME_PREFIX}`, 'dev', 'lan');
      await ip('-n', router, 'link', 'set', 'dev', 'lan', 'up');
      await ip('-n', host, 'addr', 'add', `${HOME_ADDRESS}/${HOME_PREFIX}`, 'dev', 'eth0');
      await ip('-n', host, 'link', 'set', 'dev', 'eth0', 'up');
      await ip('-n', host, 'route', 'add', 'default', 'via', HOME_GATEWAY);
      await run(IP, ['netns', 'exec', router, NFT, '-f', '-'], routerRuleset(kind));
      wan.set(home, wanAddress);
    }
    for (const [index, name] of open.entries()) {
      const address = `198.18.0.${101 + index}`;
      const ns = await addNamespace(name, address);
      await plugIn(ns, 'eth0', address, `v${++port}`);
    }
  } catch (error) {
    await network.destroy();
    throw error;
  }
  return network;
}
