/** The variables a ValidatingAdmissionPolicy's expressions may use (upstream's admission CEL environment). */
export const POLICY_VARIABLES = ['object', 'oldObject', 'request', 'params', 'namespaceObject', 'authorizer', 'variables'] as const;
