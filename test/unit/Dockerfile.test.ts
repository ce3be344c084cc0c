/**
 * The Dockerfile `Manifests.dockerfile()` writes, run without a container runtime (none on these
 * machines): each stage in a folder of its own, its COPY and RUN steps done there
 * (test/support/dockerfile.ts), then the final stage's CMD. A project with a production and a
 * development dependency (local packages): the image's folder gets the built dist/ and the
 * production dependency only, never the sources, and its CMD runs dist/. The Tenant example's own
 * Dockerfile, built from this repository (the library compiled, then the example against it; the
 * runtime stage installs production dependencies only): its image folder holds the compiled example
 * and its production dependencies (operatorkit as an installed package: dist/, no sources), its CMD
 * answers --help, and it runs: /healthz answers.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Manifests from "../../src/Manifests.ts"
import { env } from "../../scripts/pack.ts"
import { build } from "../support/dockerfile.ts"

const write = (file: string, text: string) => {
  Fs.mkdirSync(Path.dirname(file), { recursive: true })
  Fs.writeFileSync(file, text)
}

describe("Manifests.dockerfile, its steps run in a temporary folder", () => {
  it("the runtime stage holds dist/ and the production dependencies only; its CMD runs the built code", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "operatorkit-dockerfile-"))
    try {
      const project = Path.join(dir, "project")
      // two local packages stand for the registry's: one needed at run time, one only to build
      for (const name of ["runtime-dep", "build-dep"]) {
        write(Path.join(dir, "packages", name, "package.json"), JSON.stringify({ name, version: "1.0.0", main: "index.js" }))
        write(Path.join(dir, "packages", name, "index.js"), `module.exports = ${JSON.stringify(name)}\n`)
      }
      const pack = (name: string) => {
        const out = ChildProcess.spawnSync("npm", ["pack", "--silent", Path.join(dir, "packages", name)], { cwd: dir, env: env(), encoding: "utf8" })
        assert.strictEqual(out.status, 0, out.stderr)
        return Path.join(dir, out.stdout.trim())
      }
      const [runtimeDep, buildDep] = [pack("runtime-dep"), pack("build-dep")]
      write(Path.join(project, "package.json"), JSON.stringify({
        name: "demo-operator",
        version: "1.0.0",
        private: true,
        type: "module",
        // the "compiler": the build dependency is needed here only
        scripts: { build: "node -e \"require('build-dep'); const fs = require('fs'); fs.mkdirSync('dist', { recursive: true }); fs.copyFileSync('src/main.js', 'dist/main.js')\"" },
        dependencies: { "runtime-dep": `file:${runtimeDep}` },
        devDependencies: { "build-dep": `file:${buildDep}` }
      }, null, 2))
      write(
        Path.join(project, "src", "main.js"),
        `import { createRequire } from "node:module"\nimport * as Fs from "node:fs"\nconst require = createRequire(import.meta.url)\n` +
          `console.log(JSON.stringify({ dep: require("runtime-dep"), env: process.env.NODE_ENV, sources: Fs.existsSync("src"), buildDep: Fs.existsSync("node_modules/build-dep") }))\n`
      )
      const locked = ChildProcess.spawnSync("npm", ["install", "--package-lock-only", "--offline"], { cwd: project, env: env(), encoding: "utf8" })
      assert.strictEqual(locked.status, 0, locked.stderr)
      write(Path.join(project, "Dockerfile"), Manifests.dockerfile())
      write(Path.join(project, ".dockerignore"), Manifests.dockerignore)

      const image = build(Path.join(project, "Dockerfile"), project, Path.join(dir, "image"), { runEnv: { npm_config_offline: "true" } })
      assert.deepStrictEqual(image.runs.map((r) => r.stage), ["build", "build", "1"])
      assert.include(image.runs.at(-1)!.command, "npm ci --omit=dev")
      assert.strictEqual(image.user, "node")
      assert.deepStrictEqual(image.cmd, ["node", "dist/main.js"])
      assert.deepStrictEqual(Fs.readdirSync(image.dir).sort(), ["dist", "node_modules", "package-lock.json", "package.json"])
      const ran = ChildProcess.spawnSync(process.execPath, image.cmd.slice(1), { cwd: image.dir, env: env(image.env), encoding: "utf8" })
      assert.strictEqual(ran.status, 0, ran.stderr)
      assert.deepStrictEqual(JSON.parse(ran.stdout), { dep: "runtime-dep", env: "production", sources: false, buildDep: false })
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it.live("the Tenant example's Dockerfile: built dist/ of the library and the example, production dependencies only, non-root; its CMD runs and answers /healthz", () =>
    Effect.promise(async () => {
      const repo = Path.resolve(import.meta.dirname, "..", "..")
      const dockerfile = Path.join(repo, "examples", "tenant", "Dockerfile")
      const text = Fs.readFileSync(dockerfile, "utf8")
      const stages = text.split("\n").filter((l) => l.startsWith("FROM "))
      assert.deepStrictEqual(stages, ["FROM node:24-slim AS build", "FROM node:24-slim"])
      assert.notInclude(text, "--conditions")
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "operatorkit-tenant-image-"))
      try {
        // registry packages (the example needs effect, @kubernetes/client-node, …) from a cache of this
        // test's own, kept between runs: the machine's ~/.npm is emptied by any `npm cache clean`
        const cache = Path.join(Os.homedir(), ".cache", "operatorkit", "npm-dockerfile")
        const image = build(dockerfile, repo, dir, { runEnv: { npm_config_cache: cache, npm_config_prefer_offline: "true" } })
        assert.deepStrictEqual(image.runs.map((r) => r.stage), ["build", "build", "1"])
        assert.include(image.runs.at(-1)!.command, "npm ci --omit=dev")
        assert.strictEqual(image.user, "node")
        assert.strictEqual(image.env["NODE_ENV"], "production")
        assert.deepStrictEqual(image.cmd, ["node", "dist/main.js"])
        // the image holds the compiled example, its lock and production dependencies; nothing else of the repository
        assert.deepStrictEqual(Fs.readdirSync(image.dir).sort(), ["dist", "node_modules", "package-lock.json", "package.json"])
        assert.deepStrictEqual(Fs.readdirSync(Path.join(image.dir, "..", "..", "..")), ["examples"])
        const files = (Fs.readdirSync(Path.join(image.dir, "dist"), { recursive: true }) as Array<string>).filter((f) => !f.endsWith(".map"))
        assert.includeMembers(files, ["main.js", "operator.js", "webhooks.js", "Tenant.js"])
        assert.isFalse(files.some((f) => f.endsWith(".ts")), "no TypeScript sources")
        const modules = Path.join(image.dir, "node_modules")
        // operatorkit as an installed package: its dist/, not a link to the repository, no sources
        assert.isFalse(Fs.lstatSync(Path.join(modules, "operatorkit")).isSymbolicLink())
        assert.isTrue(Fs.existsSync(Path.join(modules, "operatorkit", "dist", "index.js")))
        assert.isFalse(Fs.existsSync(Path.join(modules, "operatorkit", "src")))
        for (const runtime of ["effect", "@effect/platform-node", "@kubernetes/client-node", "pkijs"]) assert.isTrue(Fs.existsSync(Path.join(modules, runtime)), runtime)
        for (const dev of ["typescript", "vitest", "tstyche", "fast-check"]) assert.isFalse(Fs.existsSync(Path.join(modules, dev)), `${dev} is a development dependency`)

        const ran = ChildProcess.spawnSync(process.execPath, [...image.cmd.slice(1), "--help"], { cwd: image.dir, env: env(image.env), encoding: "utf8" })
        assert.strictEqual(ran.status, 0, ran.stderr)
        assert.include(ran.stdout, "usage: npm start --")

        // run as in a cluster whose API server cannot be reached: the probes still answer
        const kubeconfig = Path.join(dir, "kubeconfig")
        Fs.writeFileSync(kubeconfig, [
          "apiVersion: v1",
          "kind: Config",
          "clusters: [{ name: none, cluster: { server: \"https://127.0.0.1:1\", insecure-skip-tls-verify: true } }]",
          "users: [{ name: none, user: { token: none } }]",
          "contexts: [{ name: none, context: { cluster: none, user: none } }]",
          "current-context: none",
          ""
        ].join("\n"))
        const child = ChildProcess.spawn(process.execPath, [...image.cmd.slice(1), "--no-crd", "--health-port=0", "--leader-elect=false"], {
          cwd: image.dir,
          env: env({ ...image.env, KUBECONFIG: kubeconfig }),
          stdio: ["ignore", "pipe", "pipe"]
        })
        let output = ""
        child.stdout.on("data", (c: Buffer) => (output += c.toString()))
        child.stderr.on("data", (c: Buffer) => (output += c.toString()))
        const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
        try {
          const deadline = Date.now() + 60_000
          let url: string | undefined
          while (url === undefined && Date.now() < deadline && child.exitCode === null) {
            url = /metrics and probes: (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(output)?.[1]
            await new Promise((r) => setTimeout(r, 100))
          }
          assert.isDefined(url, output)
          const healthz = await fetch(`${url}/healthz`)
          assert.strictEqual(healthz.status, 200, output)
          child.kill("SIGTERM")
          assert.strictEqual(await exited, 0, output)
        } finally {
          if (child.exitCode === null) child.kill("SIGKILL")
        }
      } finally {
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    }), 600_000)
})
