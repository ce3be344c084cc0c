/**
 * Child processes for Envtest: spawn with logs in a file, stop with TERM then KILL, read log tails.
 * @internal
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Effect from "effect/Effect"

/** A process started by Envtest. */
export interface Managed {
  readonly name: string
  readonly child: ChildProcess.ChildProcess
  readonly logFile: string
  /** Resolves with the exit code (or signal) when the process ends. */
  readonly exited: Promise<string>
  /** True once `stop` was asked for, so an exit is not a crash. */
  stopping: boolean
  exit: string | undefined
}

export const spawn = (
  name: string,
  binary: string,
  args: ReadonlyArray<string>,
  logFile: string,
  onExit: (managed: Managed) => void
): Effect.Effect<Managed, Error> =>
  Effect.try({
    try: () => {
      const fd = Fs.openSync(logFile, "a")
      const child = ChildProcess.spawn(binary, args, {
        stdio: ["ignore", fd, fd],
        // own process group: a Ctrl-C reaches the Node process, which stops children in order
        detached: true
      })
      Fs.closeSync(fd)
      let resolveExit!: (s: string) => void
      const exited = new Promise<string>((resolve) => (resolveExit = resolve))
      const managed: Managed = { name, child, logFile, exited, stopping: false, exit: undefined }
      const done = (how: string) => {
        if (managed.exit !== undefined) return
        managed.exit = how
        resolveExit(how)
        onExit(managed)
      }
      child.once("exit", (code, signal) => done(signal !== null ? `signal ${signal}` : `exit code ${code}`))
      child.once("error", (err) => done(`spawn error: ${err.message}`))
      return managed
    },
    catch: (cause) => new Error(`cannot start ${name} (${binary}): ${String(cause)}`)
  })

/** TERM, then KILL after `graceMs`; resolves when the process is gone. */
export const stop = (managed: Managed, graceMs = 10_000): Effect.Effect<void> =>
  Effect.promise(async () => {
    managed.stopping = true
    if (managed.exit !== undefined) return
    signal(managed, "SIGTERM")
    const timer = setTimeout(() => signal(managed, "SIGKILL"), graceMs)
    await managed.exited
    clearTimeout(timer)
  })

/** KILL at once; resolves when the process is gone. */
export const kill = (managed: Managed): Effect.Effect<void> =>
  Effect.promise(async () => {
    managed.stopping = true
    if (managed.exit !== undefined) return
    signal(managed, "SIGKILL")
    await managed.exited
  })

const signal = (managed: Managed, sig: NodeJS.Signals) => {
  try {
    managed.child.kill(sig)
  } catch {
    // already gone
  }
}

/**
 * The telling part of a log: from the first fatal line (klog `F…`, Go `panic:`) when there is one,
 * since a Go crash ends in goroutine dumps, else the last `lines` lines. "" when there is no log.
 */
export const tail = (file: string, lines = 30): string => {
  let text: string
  try {
    text = Fs.readFileSync(file, "utf8")
  } catch {
    return ""
  }
  const all = text.split("\n")
  const fatal = all.findIndex((l) => /^(F\d{4} |panic: |fatal error: )/.test(l))
  const picked = fatal >= 0 ? all.slice(Math.max(0, fatal - 3), fatal + 12) : all.slice(-lines - 1)
  return picked.join("\n").trimEnd()
}

const reserved = new Set<number>()

/** A free loopback TCP port, never handed out twice in this process. */
export const freePort: Effect.Effect<number, Error> = Effect.callback<number, Error>((resume) => {
  const attempt = (left: number) => {
    const server = Net.createServer()
    server.unref()
    server.once("error", (err) => resume(Effect.fail(err)))
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => {
        if (reserved.has(port) && left > 0) return attempt(left - 1)
        reserved.add(port)
        resume(Effect.succeed(port))
      })
    })
  }
  attempt(20)
})

/** Whether something accepts TCP connections on a loopback port. */
export const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })
