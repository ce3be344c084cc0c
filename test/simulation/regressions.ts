/**
 * Seeds that found bugs in the library: each runs first, every time, in the simulation suites
 * (examples/tenant/simulation.test.ts, test/simulation/finalizers.test.ts, test/simulation/sharding.test.ts) and must never fail
 * again. A seed stays meaningful only while the simulation plans the same events for it: after a
 * change to a simulation's workload or fault profiles, check again that each still fails with its
 * fix reverted (`npm run simulate -- --sim <name> --faults <profile> --from <seed> --seeds 1`).
 */
export interface Regression {
  readonly seed: number
  /** The fault profile it ran with (Simulation.faults). */
  readonly faults: "standard" | "heavy"
  /** What the seed found, and where it was fixed (or why it was not a bug). */
  readonly found: string
}

const echo = "echo suppression swallowed another writer's change (internal/controller/writeTracker.ts: only watch events " +
  "are echoes, and only of writes known to have made their version)"

// The Tenant seeds were found before the simulation served the operator's webhooks, held it to its
// RBAC and had v1beta1 users: their plans now hold more events (the v1beta1 and kubectl users'),
// the same ones before. Each bug also has a focused test (test/unit/EchoSuppression.test.ts).
export const tenant: ReadonlyArray<Regression> = [
  {
    seed: 55,
    faults: "standard",
    found: `${echo}: a standby turned leader wrote a Tenant's status retried on conflict from a fresh read holding the ` +
      "user's new generation; the informer relisted after a 410 and jumped straight to that version, taken for the " +
      "write's echo; the Tenant stayed Ready for its old generation (shrunk: create, crash, API server restart, update)"
  },
  { seed: 48, faults: "heavy", found: `${echo}: a Tenant stayed Ready for its old generation` },
  { seed: 71, faults: "heavy", found: `${echo}: a deleted Tenant kept the operator's finalizer` },
  { seed: 103, faults: "heavy", found: `${echo}: a Tenant stayed Ready for its old generation` },
  {
    seed: 332,
    faults: "standard",
    found: "no-hot-loop measured per second flagged a new leader's burst (4 Tenants reconciled about 3 times each: an " +
      "owned object's server-side apply has no known echo, so its event queues the owner again; 101 requests in one " +
      "second). A loop is sustained: the rate is now averaged over ten simulated seconds (simulation/checks.ts)"
  },
  { seed: 382, faults: "standard", found: "no-hot-loop flagged a new leader's burst, as seed 332" }
]

export const finalizers: ReadonlyArray<Regression> = [
  {
    seed: 147,
    faults: "heavy",
    found: "a standby whose watch had been down and backing off for half a minute took the auditor's Lease and " +
      "reconciled a Widget from its stale cache: the Widget had meanwhile been deleted and cleaned up by the previous " +
      "leader, and the new leader's ensureCreated made its ConfigMap again, which nothing ever deleted (Controller: the " +
      "caches are listed afresh from etcd each time the lead is taken, as a shard's were)"
  },
  {
    seed: 212,
    faults: "standard",
    found: "not a library bug: the scenario's flaky cleanup (fails one time in three) failed 11 times in a row, its " +
      "retries backing off to 2 minutes apart, past the 3-minute settle timeout, and a Widget kept the auditor's " +
      "finalizer. The cleanup now succeeds once its Widget has been deleted for a minute (finalizers.ts)"
  }
]

export const sharding: ReadonlyArray<Regression> = [
  {
    seed: 40,
    faults: "heavy",
    found: "not a library bug: the quiet window counted a legitimate hand-off as a hot loop. A shard whose Lease calls " +
      "had hung came back 11 s after the faults healed; the sharder had reclaimed its 5 Widgets and moved them back " +
      "(drain, acknowledgement, assignment: about 5 requests per Widget), 56 requests in the 10 quiet seconds where 50 " +
      "were allowed. The quiet window now starts again after each hand-off write (simulation/run.ts); hand-offs that " +
      "never stop still fail the run"
  },
  {
    seed: 342,
    faults: "standard",
    found: "a shard that acknowledged a drain saw the Widget leave its cache with its finalizer on and, finding it " +
      "gone from the server (the new shard had just run its deletion pass and removed the finalizer), ran its " +
      "ensureDeleted as owed, while the new shard's reconcile of it was still running: two replicas reconciling one " +
      "object, and a second cleanup (Controller.ts: an object this replica let go is never owed its cleanup here)"
  }
]
