// Evaluates IAM requests with @cloud-copilot/iam-simulate. Reads a JSON array of requests on stdin, writes a JSON
// array of decisions to stdout, one per request and in the same order: "Allowed", "ImplicitlyDenied",
// "ExplicitlyDenied", or "error: <why>" when the simulator refuses the request (unknown action, an ARN that
// fits none of the action's resource types, a malformed policy).
import { anonymousPrincipal, runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const decisions = []
for (const request of requests) {
  const simulation = {
    identityPolicies: request.principal ? request.identityPolicies : [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: request.resourcePolicy ?? undefined,
    request: {
      action: request.action,
      principal: request.principal ?? anonymousPrincipal,
      resource: { accountId: request.account, resource: request.resource },
      contextVariables: request.context ?? {},
    },
  }
  const result = await runSimulation(simulation, {})
  if (result.resultType === 'error') {
    decisions.push(`error: ${JSON.stringify(result.errors)}`)
  } else {
    decisions.push(result.overallResult)
  }
}
process.stdout.write(JSON.stringify(decisions))
