//! Where each identity provider wants the endpoint URL and the token. Paths follow each
//! console's own menu names, as of 2026.

export type IdpId = "okta" | "entra" | "onelogin" | "jumpcloud";

export type IdpGuide = {
  id: IdpId;
  name: string;
  /** Where the SCIM settings live in the IdP's console. */
  path: string[];
  /** The IdP's own label for the endpoint URL field. */
  urlField: string;
  /** The IdP's own label for the token field. */
  tokenField: string;
  steps: string[];
};

export const IDP_GUIDES: readonly IdpGuide[] = [
  {
    id: "okta",
    name: "Okta",
    path: ["Applications", "TalkWriter", "Provisioning", "Integration"],
    urlField: "SCIM connector base URL",
    tokenField: "Authorization (Authentication Mode: HTTP Header)",
    steps: [
      "Set Unique identifier field for users to userName.",
      "Tick Push New Users, Push Profile Updates and Push Groups, then Test Connector Configuration.",
      "Under Provisioning › To App, enable Create Users, Update User Attributes and Deactivate Users.",
    ],
  },
  {
    id: "entra",
    name: "Entra ID",
    path: ["Enterprise applications", "TalkWriter", "Provisioning", "Admin Credentials"],
    urlField: "Tenant URL",
    tokenField: "Secret Token",
    steps: [
      "Set Provisioning Mode to Automatic, then Test Connection.",
      "Use Provision on demand with one user to run a test sync.",
      "Set Provisioning Status to On. Entra syncs about every 40 minutes; the interval is fixed.",
    ],
  },
  {
    id: "onelogin",
    name: "OneLogin",
    path: ["Applications", "TalkWriter (SCIM Provisioner with SAML, SCIM v2)", "Configuration"],
    urlField: "SCIM Base URL",
    tokenField: "SCIM Bearer Token",
    steps: [
      "Under API Connection, click Enable.",
      "On the Provisioning tab, tick Enable provisioning and choose what happens when users are deleted or suspended.",
      "Map group membership under Parameters › Groups to push groups.",
    ],
  },
  {
    id: "jumpcloud",
    name: "JumpCloud",
    path: ["SSO Applications", "TalkWriter", "Identity Management"],
    urlField: "Base URL",
    tokenField: "Token Key",
    steps: [
      "Choose SCIM 2.0, then Test Connection and Activate.",
      "Bind user groups on the User Groups tab; their members are pushed right away.",
      "JumpCloud pushes changes as they happen; no schedule is needed.",
    ],
  },
];
