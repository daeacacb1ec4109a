/**
 * A TCP stand-in for a server (PostgreSQL, Redis), to take it away and bring
 * it back under a running application: `forward` relays to the real server,
 * `stop` closes the port and cuts every relayed connection (what a crashed or
 * stopped server looks like to a client), `blackhole` accepts connections
 * and never answers (an unreachable host, a full backlog), `freeze` keeps
 * every connection open but holds the bytes sent either way (a paused
 * container, a network partition) until `thaw` delivers them and relays
 * again, and `severSilently` kills the relayed connections without the
 * client noticing until it next writes (idle connections that died unseen:
 * a failover behind a virtual IP, a NAT or firewall timeout).
 */
import { once } from 'node:events';
import net from 'node:net';

export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private frozen = false;
  /** Bytes held while frozen, with where they go, in arrival order. */
  private held: Array<{ to: net.Socket; chunk: Buffer }> = [];
  /** Cuts the server side of each relayed connection, leaving a trap on the client side. */
  private readonly severs = new Set<() => void>();

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** Reserves a free loopback port (closed until `forward` or `blackhole`). */
  static async create(target: { host: string; port: number }): Promise<TcpProxy> {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const address = probe.address();
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    if (address === null || typeof address === 'string') throw new Error('no port for the proxy');
    return new TcpProxy(address.port, target);
  }

  /** Relays every new connection to the target. */
  forward(): Promise<void> {
    this.frozen = false;
    this.held = [];
    return this.listen((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      this.track(upstream);
      let severed = false;
      this.relay(client, upstream, () => severed);
      this.relay(upstream, client, () => severed);
      const cut = () => {
        this.severs.delete(sever);
        client.destroy();
        upstream.destroy();
      };
      const sever = () => {
        severed = true;
        this.severs.delete(sever);
        upstream.destroy();
        // The client learns only when it sends something: a reset, as from a peer that forgot the connection.
        client.once('data', () => client.resetAndDestroy());
      };
      this.severs.add(sever);
      client.on('error', cut).on('close', cut);
      upstream.on('error', () => (severed ? undefined : cut())).on('close', () => (severed ? undefined : cut()));
    });
  }

  /**
   * From now on, bytes sent either way on any relayed connection (open or
   * new) are held, not delivered: connections stay open, nothing answers.
   */
  freeze(): void {
    this.frozen = true;
  }

  /** Delivers what was held, in order, and relays again. */
  thaw(): void {
    this.frozen = false;
    const held = this.held;
    this.held = [];
    for (const { to, chunk } of held) if (!to.destroyed) to.write(chunk);
  }

  /**
   * Kills every relayed connection on the server's side only: the client
   * sees nothing until its next write, which is answered with a reset. New
   * connections are relayed as before. Returns how many were severed.
   */
  severSilently(): number {
    const severs = [...this.severs];
    for (const sever of severs) sever();
    return severs.length;
  }

  private relay(from: net.Socket, to: net.Socket, severed: () => boolean): void {
    from.on('data', (chunk: Buffer) => {
      if (severed()) return;
      if (this.frozen) this.held.push({ to, chunk });
      else if (!to.destroyed) to.write(chunk);
    });
  }

  /** Accepts connections and never answers. */
  blackhole(): Promise<void> {
    return this.listen((client) => {
      client.on('error', () => client.destroy());
    });
  }

  /** Closes the port and cuts every open connection. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.held = [];
    this.severs.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private async listen(onConnection: (socket: net.Socket) => void): Promise<void> {
    await this.stop();
    const server = net.createServer((socket) => {
      this.track(socket);
      onConnection(socket);
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
  }
}

/** The URL with its host and port replaced by the proxy's. */
export function throughProxy(url: string, proxy: TcpProxy): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(proxy.port);
  return parsed.toString();
}
