/**
 * `npm start` as a newcomer runs it: main.ts in a child process on an embedded control plane.
 * It must converge, serve its endpoints and its webhooks (kube-apiserver calls them by URL on
 * 127.0.0.1: a duplicate display name refused with its field path, v1beta1 reads and writes
 * converted), stop on Ctrl-C, and leave no etcd, kube-apiserver or kube-controller-manager behind
 * (nor its temporary folder).
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { parseArgs } from "./main.ts"

const main = Path.join(import.meta.dirname, "main.ts")

interface Run {
  readonly child: ChildProcess.ChildProcess
  readonly tag: string
  readonly output: () => string
  readonly exited: Promise<number | null>
  /** Resolves once the output matches. */
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>
}

const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Run => {
  // the Envtest folder's name carries this tag: its processes can be found afterwards
  const tag = `example-${Crypto.randomBytes(4).toString("hex")}-`
  const child = ChildProcess.spawn(process.execPath, ["--conditions=@operatorkit/source", main, ...args], {
    env: { ...process.env, OPERATORKIT_ENVTEST_TAG: tag, KUBECONFIG: "", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  const listeners = new Set<() => void>()
  const append = (chunk: Buffer) => {
    output += chunk.toString()
    for (const l of listeners) l()
  }
  child.stdout!.on("data", append)
  child.stderr!.on("data", append)
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const waitFor = (pattern: RegExp, timeoutMs = 90_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = output.match(pattern)
        if (match !== null) {
          listeners.delete(check)
          clearTimeout(timer)
          resolve(match)
        }
      }
      const timer = setTimeout(() => {
        listeners.delete(check)
        reject(new Error(`no ${pattern} within ${timeoutMs} ms; output so far:\n${output}`))
      }, timeoutMs)
      listeners.add(check)
      void exited.then(() => {
        if (listeners.has(check)) {
          listeners.delete(check)
          clearTimeout(timer)
          reject(new Error(`exited before ${pattern}; output:\n${output}`))
        }
      })
      check()
    })
  return { child, tag, output: () => output, exited, waitFor }
}

/** Control plane processes (or the watchdog) of this run still alive. */
const leftovers = (tag: string) =>
  ChildProcess.spawnSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" }).stdout
    .split("\n")
    .filter((l) => l.includes(`operatorkit-envtest-${tag}`))

const withTimeout = <A>(promise: Promise<A>, ms: number, what: string) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms))])

describe("npm start (examples/tenant/main.ts)", () => {
  it.effect("its arguments: Manifests.parseFlags' with this program's defaults, then its own; anything else a typed error naming it", () =>
    Effect.gen(function*() {
      const plain = yield* parseArgs([])
      assert.deepStrictEqual(plain.flags, { healthPort: 8080, metricsPort: 8080, secureMetrics: false, leaderElection: true, webhookPort: 9443, qps: undefined, burst: undefined, rest: [] })
      const check = yield* parseArgs(["--check", "--health-port=0", "--webhook-port=0", "--exit-after=5"])
      assert.deepStrictEqual([check.check, check.flags.healthPort, check.flags.webhookPort, check.exitAfterSeconds], [true, 0, 0, 5])
      assert.deepStrictEqual(check.given, { healthPort: true, metricsPort: false, webhookPort: true })
      // the flag main.ts took before it read Manifests' flags
      const unknown = yield* Effect.flip(parseArgs(["--port=8080"]))
      assert.deepStrictEqual([unknown._tag, unknown.message], ["FlagError", "unknown flag --port=8080"])
      const badPort = yield* Effect.flip(parseArgs(["--webhook-port=https"]))
      assert.deepStrictEqual([badPort._tag, badPort.message], ["FlagError", `--webhook-port takes a port number from 0 to 65535 (--webhook-port=<n>), not "https"`])
      const badExit = yield* Effect.flip(parseArgs([], "soon"))
      assert.deepStrictEqual([badExit._tag, badExit.message], ["UsageError", `--exit-after: takes a number of seconds, not "soon"`])
    }))

  it.live("--check: converges the samples, cleans up a deleted Tenant, exits 0 and leaves nothing running", () =>
    Effect.promise(async () => {
      const run = start(["--check", "--health-port=0", "--webhook-port=0"])
      const code = await withTimeout(run.exited, 150_000, "the --check run")
      const output = run.output()
      assert.strictEqual(code, 0, output)
      assert.match(output, /starting an embedded control plane/)
      assert.match(output, /CRD tenants\.tenancy\.example\.com: created \(v1alpha1 stored, v1beta1 served; conversion: Webhook at https:\/\/127\.0\.0\.1:\d+\/convert\)/)
      assert.match(output, /webhooks: https:\/\/127\.0\.0\.1:\d+ /)
      assert.match(output, /applied 3 sample Tenants: team-a, team-b, team-c/)
      assert.match(output, /check: 3 Tenants Ready [\d.]+ s after they were applied/)
      // the webhooks, called by kube-apiserver: the admission refusal with its field path, conversion both ways
      assert.match(output, /check: the webhook refused Tenant team-a-twin: spec\.displayName: Duplicate value: "Team A": Tenant team-a has it/)
      assert.match(output, /check: team-a read as v1beta1 has owners \["alice"\]; team-b written as v1beta1 with owners \["bob","dave"\] reads as v1alpha1 with owner bob and as v1beta1 with both/)
      assert.match(output, /check: deleting team-c/)
      assert.match(output, /check passed: Tenant team-c and its namespace were gone/)
      assert.match(output, /control plane stopped and its files removed/)
      assert.match(output, /tenants 2 \(ready 2, failing 0, deleting 0\) · owned 2 namespaces, 2 quotas, 2 role bindings, 2 config maps/)
      assert.deepStrictEqual(leftovers(run.tag), [])
    }), 180_000)

  it.live("serves /metrics and the probes while it runs, and Ctrl-C stops everything and removes its files", () =>
    Effect.promise(async () => {
      const run = start(["--health-port=0", "--webhook-port=0"])
      try {
        const [, url] = await run.waitFor(/metrics and probes: (http:\/\/127\.0\.0\.1:\d+)\/metrics/)
        const [, kubeconfig] = await run.waitFor(/export KUBECONFIG=(\S+)/)
        await run.waitFor(/tenants 3 \(ready 3, failing 0, deleting 0\)/)
        await run.waitFor(/webhooks answering: a Tenant with team-a's display name is refused/)
        assert.isTrue(Fs.existsSync(kubeconfig!))

        const readyz = await fetch(`${url}/readyz`)
        assert.strictEqual(readyz.status, 200)
        const healthz = await fetch(`${url}/healthz`)
        assert.strictEqual(healthz.status, 200)
        const metrics = await (await fetch(`${url}/metrics`)).text()
        assert.match(metrics, /^controller_runtime_reconcile_total\{controller="tenant-operator",result="success"\} [1-9]\d*$/m)
        assert.match(metrics, /^tenant_operator_namespaces_created_total 3$/m)
        assert.match(metrics, /^leader_election_master_status\{name="tenant-operator"\} 1$/m)
        assert.match(metrics, /^operatorkit_controller_operation_total\{resource="namespace",operation="ensureCreated"\} [1-9]\d*$/m)
        // the admission webhook's reviews, under controller-runtime's names
        assert.match(metrics, /^controller_runtime_webhook_requests_total\{webhook="\/validate-tenancy-example-com-v1alpha1-tenant",code="200"\} [1-9]\d*$/m)

        // a second run on the same cluster through KUBECONFIG serves no webhooks: it must leave the
        // two-version CRD with its conversion as it is (its own would be v1alpha1 only)
        const second = start(["--health-port=0", "--exit-after=2"], { KUBECONFIG: kubeconfig! })
        try {
          await second.waitFor(/CRD tenants\.tenancy\.example\.com: exists, left as it is/)
          assert.strictEqual(await withTimeout(second.exited, 90_000, "the KUBECONFIG run exiting"), 0, second.output())
        } finally {
          if (second.child.exitCode === null) second.child.kill("SIGKILL")
        }

        run.child.kill("SIGINT")
        const code = await withTimeout(run.exited, 60_000, "stopping after SIGINT")
        const output = run.output()
        assert.strictEqual(code, 0, output)
        assert.match(output, /released the Lease/)
        assert.match(output, /control plane stopped and its files removed\n.*stopped\n$/)
        assert.isFalse(Fs.existsSync(Path.dirname(kubeconfig!)), "the control plane's folder is removed")
        assert.deepStrictEqual(leftovers(run.tag), [])
      } finally {
        if (run.child.exitCode === null) run.child.kill("SIGKILL")
      }
    }), 180_000)
})
