/**
 * The Tenant operator as deployed on a cluster: what deploy/operator.yaml holds, generated with
 *
 *   npm exec -- node --conditions=@operatorkit/source src/bin/operatorkit.ts manifests examples/tenant/deployment.ts
 *
 * (deploy.test.ts fails when the file is stale). The Namespace, the CRD with both versions and
 * `conversion: Webhook`, the ServiceAccount and the least RBAC of what each part declares (the
 * controller, leader election, the webhooks and their CA Secret, secure metrics' TokenReview and
 * SubjectAccessReview), the metrics and webhook Services, and a Deployment of two replicas whose
 * arguments main.ts reads with `Manifests.parseFlags`.
 */
import { Controller, Manifests } from "operatorkit"
import { controllerOptions } from "./operator.ts"
import { controllerName } from "./resources.ts"
import { admissionPermissions, certificates, TenantCrdV1beta1, TenantWebhooks } from "./webhooks.ts"

/** The namespace it runs in (the Lease, the webhooks' CA Secret, the Services). */
export const namespace = "tenant-operator"

export const TenantDeployment = Manifests.make({
  name: controllerName,
  namespace,
  image: "tenant-operator:dev",
  crds: [TenantCrdV1beta1],
  permissions: [Controller.permissions(controllerOptions()), admissionPermissions],
  webhooks: { definition: TenantWebhooks, certificates: certificates(namespace) },
  // controller-runtime's defaults for its client
  apiRateLimit: { qps: 20, burst: 30 }
})
