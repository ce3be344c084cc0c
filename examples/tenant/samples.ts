/**
 * The sample Tenants `npm start` applies (deploy/samples.yaml holds the same for kubectl).
 */
import type { Tenant } from "./Tenant.ts"

export const samples: ReadonlyArray<Tenant> = [
  {
    apiVersion: "tenancy.example.com/v1alpha1",
    kind: "Tenant",
    metadata: { name: "team-a", labels: { "tenancy.example.com/sample": "true" } },
    spec: {
      owner: "alice",
      displayName: "Team A",
      quota: { pods: 20, cpu: "8", memory: "16Gi" },
      settings: { tier: "gold", region: "eu-west" }
    }
  },
  {
    apiVersion: "tenancy.example.com/v1alpha1",
    kind: "Tenant",
    metadata: { name: "team-b", labels: { "tenancy.example.com/sample": "true" } },
    spec: {
      owner: "bob",
      quota: { pods: 10, cpu: "4", memory: "8Gi" },
      settings: { tier: "silver" }
    }
  },
  {
    apiVersion: "tenancy.example.com/v1alpha1",
    kind: "Tenant",
    metadata: { name: "team-c", labels: { "tenancy.example.com/sample": "true" } },
    spec: {
      owner: "carol",
      quota: { pods: 5, cpu: "500m", memory: "1Gi" }
    }
  }
]
