/**
 * The client-go programs of the benchmarks (bench/go/*), built against the client-go that Debian's
 * kubernetes 1.20.2 source package vendors: the same release as the Envtest control plane, and the
 * only client-go reachable here (no Go module downloads).
 *
 * `prepareGo()` fetches the source package once (`apt-get source --download-only kubernetes`, with
 * the deb-src entry scripts/envtest-assets.sh adds), unpacks only what the programs compile from
 * (vendor/ and the api, apimachinery and client-go staging trees), and builds the programs in
 * GOPATH mode against that vendor/, as Kubernetes 1.20's own build does. Everything is cached under
 * `<cache>/bench/` (`<cache>` is `$OPERATORKIT_CACHE`, else `~/.cache/operatorkit`); the programs
 * are rebuilt only when their source, the Go version or the tree changes. When something is missing
 * it answers why in one sentence, and the benchmarks run without client-go.
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { log } from "./lib.ts"

/** The programs under bench/go, each a `package main` directory. */
export const GO_PROGRAMS = ["informer", "reconcile"] as const
export type GoProgram = (typeof GO_PROGRAMS)[number]

export type GoPrograms =
  | { readonly available: true; readonly path: (program: GoProgram) => string }
  | { readonly available: false; readonly reason: string }

const VERSION = "1.20.2"
const cacheRoot = Path.join(
  process.env["OPERATORKIT_CACHE"] ?? Path.join(process.env["XDG_CACHE_HOME"] ?? Path.join(Os.homedir(), ".cache"), "operatorkit"),
  "bench"
)
const treeDir = Path.join(cacheRoot, `kubernetes-${VERSION}`)
const sourceDir = Path.join(import.meta.dirname, "go")
/** Where the programs sit in the build's GOPATH: k8s.io/kubernetes/operatorkit-bench/<program>. */
const IN_TREE = "operatorkit-bench"
/** Debian's reflect2 1.0.2: the vendored 1.0.1 panics under Go >= 1.18 (json-iterator uses it). */
const REFLECT2 = "/usr/share/gocode/src/github.com/modern-go/reflect2"

class Unavailable extends Error {}

/** Runs a command with its output in `logFile`, saying what it does every 15 s while it runs. */
const step = (what: string, command: string, args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv; logFile: string; progress?: (output: string) => string }) =>
  new Promise<string>((resolve, reject) => {
    const started = performance.now()
    const child = ChildProcess.spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    const collect = (chunk: Buffer) => (output += chunk.toString())
    child.stdout.on("data", collect)
    child.stderr.on("data", collect)
    const ticker = setInterval(() => {
      const seconds = Math.round((performance.now() - started) / 1000)
      log(`client-go: ${what}, ${seconds} s${options.progress ? `, ${options.progress(output)}` : ""}`)
    }, 15_000)
    const done = (error: Error | undefined) => {
      clearInterval(ticker)
      Fs.appendFileSync(options.logFile, `$ ${command} ${args.join(" ")}\n${output}\n`)
      if (error === undefined) resolve(output)
      else reject(error)
    }
    child.once("error", (e) => done(new Unavailable(`${command} could not run (${e.message})`)))
    child.once("exit", (code) => done(code === 0 ? undefined : new Unavailable(`${what} failed (exit ${code}; log: ${options.logFile})`)))
  })

const goVersion = (): string => {
  const r = ChildProcess.spawnSync("go", ["version"], { encoding: "utf8" })
  if (r.error !== undefined || r.status !== 0) throw new Unavailable("Go is not installed (no `go` on PATH; scripts/envtest-assets.sh installs Debian's golang-go)")
  return r.stdout.trim()
}

/** Debian's kubernetes source, unpacked once: vendor/ and the staging trees client-go needs. */
const ensureTree = async (go: string) => {
  const marker = Path.join(treeDir, ".complete")
  if (Fs.existsSync(marker)) return Fs.readFileSync(marker, "utf8")
  const minor = Number(/go1\.(\d+)/.exec(go)?.[1] ?? 0)
  if (minor >= 18 && !Fs.existsSync(REFLECT2)) {
    throw new Unavailable(`${REFLECT2} is missing (Debian's golang-github-modern-go-reflect2-dev, which scripts/envtest-assets.sh installs): client-go 1.20's vendored reflect2 panics under Go >= 1.18`)
  }
  // unpacked beside the final place and renamed into it, so a concurrent run never sees half a tree
  const staging = `${treeDir}.${process.pid}`
  Fs.rmSync(staging, { recursive: true, force: true })
  const download = Path.join(staging, "download")
  const src = Path.join(staging, "src")
  Fs.mkdirSync(download, { recursive: true })
  Fs.mkdirSync(src, { recursive: true })
  const logFile = Path.join(cacheRoot, "fetch.log")
  Fs.writeFileSync(logFile, "")
  log(`client-go: fetching Debian's kubernetes source package (34 MB) into ${treeDir}`)
  await step("apt-get source --download-only kubernetes", "apt-get", ["source", "--download-only", "kubernetes"], { cwd: download, logFile }).catch((e: Error) => {
    throw new Unavailable(`the kubernetes source package could not be fetched: ${e.message} (it needs apt with a deb-src entry, which scripts/envtest-assets.sh adds)`)
  })
  const orig = Fs.readdirSync(download).find((f) => /^kubernetes_.*\.orig\.tar\.gz$/.test(f))
  if (orig === undefined) throw new Unavailable(`apt-get source kubernetes brought no .orig.tar.gz (log: ${logFile})`)
  const top = `kubernetes-${VERSION}`
  await step(`unpacking ${orig}`, "tar", [
    "-xzf", Path.join(download, orig), "--strip-components=1", "--exclude=*_test.go", "--exclude=testdata",
    `${top}/vendor`, ...["api", "apimachinery", "client-go"].map((repo) => `${top}/staging/src/k8s.io/${repo}`)
  ], { cwd: src, logFile }).catch((e: Error) => {
    throw new Unavailable(`${orig} is not Kubernetes ${VERSION} as expected: ${e.message}`)
  })
  if (minor >= 18) {
    const vendored = Path.join(src, "vendor/github.com/modern-go/reflect2")
    Fs.rmSync(vendored, { recursive: true, force: true })
    Fs.mkdirSync(vendored, { recursive: true })
    for (const f of Fs.readdirSync(REFLECT2)) {
      if (/\.(go|s)$/.test(f) && !f.endsWith("_test.go")) Fs.copyFileSync(Path.join(REFLECT2, f), Path.join(vendored, f))
    }
  }
  Fs.rmSync(download, { recursive: true, force: true })
  Fs.writeFileSync(Path.join(staging, ".complete"), orig)
  Fs.rmSync(treeDir, { recursive: true, force: true })
  Fs.renameSync(staging, treeDir)
  return orig
}

const listFiles = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(Path.join(dir, e.name)).map((f) => Path.join(e.name, f)) : [e.name]
  ).sort()

/** Builds of other sources (other worktrees, earlier commits) are kept a day after their last use. */
const pruneBuilds = (binRoot: string, keep: string) => {
  const dayAgo = Date.now() - 24 * 3600 * 1000
  for (const dir of Fs.readdirSync(binRoot)) {
    const path = Path.join(binRoot, dir)
    if (path !== keep && Fs.statSync(path).mtimeMs < dayAgo) Fs.rmSync(path, { recursive: true, force: true })
  }
}

let prepared: Promise<GoPrograms> | undefined

/** The built client-go programs, or why there are none. Fetches and builds on first use only. */
export const prepareGo = (): Promise<GoPrograms> => (prepared ??= prepare())

const prepare = async (): Promise<GoPrograms> => {
  try {
    const go = goVersion()
    Fs.mkdirSync(cacheRoot, { recursive: true })
    const tree = await ensureTree(go)
    const hash = Crypto.createHash("sha256").update(`${go}\n${tree}\n`)
    for (const file of listFiles(sourceDir)) hash.update(`${file}\n`).update(Fs.readFileSync(Path.join(sourceDir, file)))
    const binRoot = Path.join(cacheRoot, "bin")
    const binDir = Path.join(binRoot, hash.digest("hex").slice(0, 16))
    const path = (program: GoProgram) => Path.join(binDir, program)
    Fs.mkdirSync(binRoot, { recursive: true })
    if (!GO_PROGRAMS.every((p) => Fs.existsSync(path(p)))) await build(go, binDir)
    const now = new Date()
    Fs.utimesSync(binDir, now, now)
    pruneBuilds(binRoot, binDir)
    return { available: true, path }
  } catch (e) {
    if (e instanceof Unavailable) return { available: false, reason: e.message }
    throw e
  }
}

/**
 * Builds the programs in GOPATH mode, as Kubernetes 1.20's own build does: a GOPATH of this run's
 * own whose k8s.io/kubernetes holds the programs (k8s.io/kubernetes/operatorkit-bench/<program>)
 * and the tree's vendor/ (client-go and the rest, the staging trees through its symlinks).
 * `-trimpath` keeps the Go build cache independent of that folder's name.
 */
const build = async (go: string, binDir: string) => {
  const work = Path.join(cacheRoot, `gopath.${process.pid}`)
  const kubernetes = Path.join(work, "src/k8s.io/kubernetes")
  Fs.rmSync(work, { recursive: true, force: true })
  Fs.mkdirSync(kubernetes, { recursive: true })
  Fs.symlinkSync(Path.join(treeDir, "src/vendor"), Path.join(kubernetes, "vendor"))
  Fs.cpSync(sourceDir, Path.join(kubernetes, IN_TREE), { recursive: true })
  const logFile = Path.join(cacheRoot, "build.log")
  Fs.writeFileSync(logFile, "")
  log(`client-go: building ${GO_PROGRAMS.join(", ")} (bench/go) with ${go.split(" ")[2]} against the vendored client-go ${VERSION} (about 1.5 min the first time)`)
  try {
    await step("building the Go programs", "go", ["build", "-trimpath", "-v", "-o", Path.join(work, "bin") + "/", ...GO_PROGRAMS.map((p) => `./${IN_TREE}/${p}`)], {
      cwd: kubernetes,
      env: { ...process.env, PWD: kubernetes, GO111MODULE: "off", GOPATH: work, GOFLAGS: "", CGO_ENABLED: "0" },
      logFile,
      // `go build -v` names each package as it compiles it
      progress: (output) => {
        const packages = output.split("\n").filter((l) => l.trim() !== "")
        return `${packages.length} packages compiled (last: ${packages.at(-1)?.replace("k8s.io/kubernetes/vendor/", "") ?? "none yet"})`
      }
    })
    try {
      Fs.renameSync(Path.join(work, "bin"), binDir)
    } catch (e) {
      // another run built the same programs first: theirs are as good
      if (!Fs.existsSync(binDir)) throw e
    }
  } finally {
    Fs.rmSync(work, { recursive: true, force: true })
  }
}
