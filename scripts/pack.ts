/**
 * The library as a user gets it: `pack` builds dist/ into a staging folder beside the files the
 * package lists and runs `npm pack` there (the repository's own dist/ is left alone); `install`
 * makes a fresh project outside the repository and installs the tarball with other packages at the
 * versions this repository uses (so npm's cache answers most of it); `size` measures a project.
 *
 *   node scripts/pack.ts size     the install-size figures of the README (a consumer that does not
 *                                 trace, and one that does)
 *
 * Used by test/package/package.test.ts.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export const root = Path.resolve(import.meta.dirname, "..")
const manifest = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as {
  readonly files: ReadonlyArray<string>
  readonly peerDependencies?: Record<string, string>
}

/** npm and node from the Node that runs this (the repository's Node 24), whatever is first on PATH. */
export const env = (extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  PATH: `${Path.dirname(process.execPath)}${Path.delimiter}${process.env["PATH"] ?? ""}`,
  npm_config_audit: "false",
  npm_config_fund: "false",
  npm_config_update_notifier: "false",
  ...extra
})

export interface Run {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

export const run = (command: string, args: ReadonlyArray<string>, cwd: string, extraEnv: Record<string, string | undefined> = {}, timeoutMs = 300_000): Run => {
  const out = ChildProcess.spawnSync(command, args, { cwd, env: env(extraEnv), encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 })
  return { status: out.status, stdout: out.stdout ?? "", stderr: `${out.stderr ?? ""}${out.error !== undefined ? `\n${out.error.message}` : ""}` }
}

const must = (what: string, r: Run): Run => {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`)
  return r
}

/** Builds and packs the library; returns the tarball's path (in `outDir`). */
export const pack = (outDir: string): string => {
  const stage = Fs.mkdtempSync(Path.join(Os.tmpdir(), "operatorkit-stage-"))
  try {
    for (const file of [...manifest.files.filter((f) => f !== "dist"), "package.json", "README.md", "LICENSE"]) {
      const from = Path.join(root, file)
      if (Fs.existsSync(from)) Fs.cpSync(from, Path.join(stage, file), { recursive: true })
    }
    must("tsc (build)", run(process.execPath, [Path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", Path.join(root, "tsconfig.build.json"), "--outDir", Path.join(stage, "dist")], root))
    Fs.mkdirSync(outDir, { recursive: true })
    const packed = must("npm pack", run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", outDir], stage))
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string }>
    return Path.join(outDir, info!.filename)
  } finally {
    Fs.rmSync(stage, { recursive: true, force: true })
  }
}

/** The version of a package this repository has installed (`^` range of it), for the consumer's install. */
export const versionOf = (name: string) =>
  (JSON.parse(Fs.readFileSync(Path.join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version

/** The peers a tracing consumer installs next to operatorkit (the optional ones operatorkit/Tracing loads). */
export const tracingPeers = () =>
  Object.keys(manifest.peerDependencies ?? {}).filter((p) => p.startsWith("@opentelemetry/") || p === "@effect/opentelemetry")

const installArgs = (dir: string, tarball: string, packages: ReadonlyArray<string>) => {
  Fs.mkdirSync(dir, { recursive: true })
  Fs.writeFileSync(Path.join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2))
  return ["install", "--prefer-offline", "--no-package-lock", tarball, ...packages.map((p) => `${p}@${versionOf(p)}`)]
}

/** A fresh project outside the repository with the tarball and these packages installed. */
export const install = (dir: string, tarball: string, packages: ReadonlyArray<string>): Run =>
  must("npm install", run("npm", installArgs(dir, tarball, packages), dir))

/** {@link install} without blocking, so that several projects install at once. */
export const installAsync = (dir: string, tarball: string, packages: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn("npm", installArgs(dir, tarball, packages), { cwd: dir, env: env() })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()))
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
    child.once("error", reject)
    child.once("exit", (status) => {
      try {
        resolve(must("npm install", { status, stdout, stderr }))
      } catch (e) {
        reject(e)
      }
    })
  })

/** Packages (folders holding a package.json under node_modules) and their size on disk. */
export const size = (dir: string) => {
  let packages = 0
  let bytes = 0
  const walk = (d: string, inModules: boolean) => {
    for (const e of Fs.readdirSync(d, { withFileTypes: true })) {
      const p = Path.join(d, e.name)
      if (e.isSymbolicLink()) continue
      if (e.isDirectory()) {
        if (inModules && !e.name.startsWith("@") && !e.name.startsWith(".") && Fs.existsSync(Path.join(p, "package.json"))) packages++
        walk(p, e.name === "node_modules" || (inModules && e.name.startsWith("@")))
      } else bytes += Fs.statSync(p).size
    }
  }
  walk(Path.join(dir, "node_modules"), true)
  return { packages, megabytes: Math.round(bytes / 1e5) / 10 }
}

if (import.meta.main && process.argv[2] === "size") {
  const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "operatorkit-size-"))
  try {
    const tarball = pack(tmp)
    const plain = Path.join(tmp, "plain")
    const traced = Path.join(tmp, "traced")
    await Promise.all([installAsync(plain, tarball, ["effect"]), installAsync(traced, tarball, ["effect", ...tracingPeers()])])
    const a = size(plain)
    const b = size(traced)
    process.stdout.write(
      `operatorkit + effect:                      ${a.packages} packages, ${a.megabytes} MB\n` +
        `operatorkit + effect + tracing peers:      ${b.packages} packages, ${b.megabytes} MB\n`
    )
  } finally {
    Fs.rmSync(tmp, { recursive: true, force: true })
  }
}
