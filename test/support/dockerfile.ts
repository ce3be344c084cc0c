/**
 * A Dockerfile run without a container runtime: each stage in a folder of its own, its COPY and RUN
 * steps done there (RUN through `sh -c`, with the Node that runs the tests first on PATH), and the
 * final stage's CMD returned to be run. `npm cache clean` is not run: here it would empty the
 * machine's npm cache, which every test and worktree shares (in a container it empties the image's).
 * Enough for the multi-stage Dockerfiles operatorkit writes:
 * FROM … [AS name], WORKDIR, COPY [--from=stage] <sources…> <destination>, RUN, ENV, USER, CMD in
 * JSON form. Anything else is an error, so a Dockerfile this cannot follow fails its test rather
 * than pass untried.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { env } from "../../scripts/pack.ts"

export interface Instruction {
  readonly op: string
  readonly args: string
}

export interface Stage {
  readonly from: string
  readonly name: string | undefined
  readonly instructions: ReadonlyArray<Instruction>
}

/** The stages of a Dockerfile (comments and continuations handled). */
export const parse = (text: string): Array<Stage> => {
  const lines = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
  const stages: Array<{ from: string; name: string | undefined; instructions: Array<Instruction> }> = []
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/)
    const args = rest.join(" ")
    if (op!.toUpperCase() === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)
      if (m === null) throw new Error(`FROM ${args}: not understood`)
      stages.push({ from: m[1]!, name: m[2], instructions: [] })
    } else {
      const stage = stages.at(-1)
      if (stage === undefined) throw new Error(`${op} before FROM`)
      stage.instructions.push({ op: op!.toUpperCase(), args })
    }
  }
  return stages
}

/** Glob (`*`, `**`, `?`) of a .dockerignore line as a RegExp on `/`-separated paths. */
const globRe = (glob: string) =>
  new RegExp("^" + glob.replace(/^\/+|\/+$/g, "").split("").map((c, i, a) =>
    c === "*" ? (a[i + 1] === "*" ? "" : a[i - 1] === "*" ? ".*" : "[^/]*") : c === "?" ? "[^/]" : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")
  ).join("") + "$")

/**
 * What the build context leaves out: `<Dockerfile>.dockerignore` (BuildKit's) or the context's
 * `.dockerignore`; a path is left out when it or a folder above it matches the last matching line
 * (`!` lines bring paths back).
 */
const dockerignore = (dockerfile: string, context: string) => {
  const file = [`${dockerfile}.dockerignore`, Path.join(context, ".dockerignore")].find((f) => Fs.existsSync(f))
  const rules = file === undefined ? [] : Fs.readFileSync(file, "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => (l.startsWith("!") ? { keep: true, re: globRe(l.slice(1)) } : { keep: false, re: globRe(l) }))
  return (rel: string) => {
    const prefixes = rel.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/"))
    let ignored = false
    for (const rule of rules) if (prefixes.some((p) => rule.re.test(p))) ignored = !rule.keep
    return ignored
  }
}

export interface Result {
  /** The final stage's folder (its WORKDIR). */
  readonly dir: string
  /** The user the final stage runs as. */
  readonly user: string | undefined
  readonly env: Record<string, string>
  /** The final stage's CMD (JSON form). */
  readonly cmd: ReadonlyArray<string>
  /** Every RUN, as it ran. */
  readonly runs: ReadonlyArray<{ readonly stage: string; readonly command: string }>
}

const json = (args: string, what: string): Array<string> => {
  try {
    const value = JSON.parse(args)
    if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value
  } catch {}
  throw new Error(`${what} ${args}: only the JSON (exec) form is run here`)
}

/**
 * Runs every stage's steps: COPY from `context` (or from an earlier stage's folder), RUN in the
 * stage's WORKDIR. Stage folders live under `root`; a WORKDIR `/app` is `<root>/<stage>/app`.
 */
export const build = (dockerfile: string, context: string, root: string, options: { readonly runEnv?: Record<string, string> } = {}): Result => {
  const stages = parse(Fs.readFileSync(dockerfile, "utf8"))
  if (stages.length === 0) throw new Error(`${dockerfile} has no FROM`)
  // npm, but `npm cache clean` skipped (see above)
  const bin = Path.join(root, ".bin")
  Fs.mkdirSync(bin, { recursive: true })
  const npm = ChildProcess.spawnSync("sh", ["-c", "command -v npm"], { env: env(), encoding: "utf8" }).stdout.trim()
  Fs.writeFileSync(
    Path.join(bin, "npm"),
    `#!/bin/sh\nif [ "$1" = cache ] && [ "$2" = clean ]; then echo "npm cache clean: not run outside a container" >&2; exit 0; fi\nexec "${npm}" "$@"\n`,
    { mode: 0o755 }
  )
  const dirs = new Map<string, string>()
  const runs: Array<{ stage: string; command: string }> = []
  let last: Result | undefined
  stages.forEach((stage, i) => {
    const label = stage.name ?? String(i)
    const base = Path.join(root, `stage-${i}`)
    Fs.mkdirSync(base, { recursive: true })
    let workdir = base
    let user: string | undefined
    let cmd: ReadonlyArray<string> = []
    const stageEnv: Record<string, string> = {}
    const at = (p: string) => (p.startsWith("/") ? Path.join(base, p) : Path.join(workdir, p))
    for (const { op, args } of stage.instructions) {
      switch (op) {
        case "WORKDIR":
          workdir = at(args)
          Fs.mkdirSync(workdir, { recursive: true })
          break
        case "ENV": {
          const m = /^(\w+)[=\s](.*)$/.exec(args)
          if (m === null) throw new Error(`ENV ${args}: not understood`)
          stageEnv[m[1]!] = m[2]!
          break
        }
        case "USER":
          user = args
          break
        case "CMD":
          cmd = json(args, "CMD")
          break
        case "COPY": {
          const parts = args.split(/\s+/)
          const fromFlag = parts[0]!.startsWith("--from=") ? parts.shift()!.slice("--from=".length) : undefined
          const dest = parts.pop()!
          const sourceRoot = fromFlag === undefined ? context : dirs.get(fromFlag)
          if (sourceRoot === undefined) throw new Error(`COPY --from=${fromFlag}: no such stage`)
          for (const source of parts) {
            const from = Path.join(sourceRoot, source)
            const to = dest.endsWith("/") || parts.length > 1 ? Path.join(at(dest), source === "." ? "" : Path.basename(source)) : at(dest)
            const ignored = fromFlag === undefined ? dockerignore(dockerfile, context) : () => false
            Fs.cpSync(from, to, {
              recursive: true,
              filter: (src) => {
                const rel = Path.relative(context, src)
                return rel === "" || !ignored(rel.split(Path.sep).join("/"))
              }
            })
          }
          break
        }
        case "RUN": {
          runs.push({ stage: label, command: args })
          const out = ChildProcess.spawnSync("sh", ["-c", args], {
            cwd: workdir,
            env: env({ ...stageEnv, ...options.runEnv, PATH: `${bin}${Path.delimiter}${env()["PATH"]}` }),
            encoding: "utf8",
            timeout: 600_000,
            maxBuffer: 64 * 1024 * 1024
          })
          if (out.status !== 0) throw new Error(`RUN ${args} (stage ${label}) failed (exit ${out.status}):\n${out.stdout.slice(-3000)}\n${out.stderr.slice(-3000)}`)
          break
        }
        default:
          throw new Error(`${op} ${args}: not supported here`)
      }
    }
    // COPY --from=<stage> takes paths relative to the stage's root (/app/dist)
    dirs.set(label, base)
    dirs.set(String(i), base)
    last = { dir: workdir, user, env: stageEnv, cmd, runs }
  })
  return last!
}
