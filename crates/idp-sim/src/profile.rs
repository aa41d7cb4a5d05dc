//! The identity providers the simulator can play, with the headers each one sends. The request
//! shapes themselves live in `simulate.rs`, next to the step that sends them.

use serde::{Deserialize, Serialize};

use crate::Error;

/// An IdP and the way it talks SCIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Profile {
    /// Okta's OIN app: PUT for profile updates, PATCH (no path) for deactivation, group push with
    /// a rename-with-id in every membership PATCH. Never deletes users.
    #[serde(rename = "okta")]
    Okta,
    /// An Okta custom (wizard) app: everything as PUT, deactivation included. Never deletes users.
    #[serde(rename = "okta-put")]
    OktaPut,
    /// Entra ID without `aadOptscim062020`: capitalised ops, string booleans, member removal with
    /// the members in the value.
    #[serde(rename = "entra")]
    Entra,
    /// Entra ID with `aadOptscim062020`: lowercase ops, path-less replace with dotted and URN keys,
    /// member removal by a value filter in the path.
    #[serde(rename = "entra-flag")]
    EntraFlag,
    /// OneLogin: templated payloads (SCIM 1.1 URN on some, manager as `{value, displayName}`), PUT.
    #[serde(rename = "onelogin")]
    OneLogin,
    /// JumpCloud: plain `application/json`, its create-add-remove-delete "Test Connection" first.
    #[serde(rename = "jumpcloud")]
    JumpCloud,
}

impl Profile {
    /// Every profile, in the order the CLI lists them.
    pub const ALL: [Profile; 6] =
        [Profile::Okta, Profile::OktaPut, Profile::Entra, Profile::EntraFlag, Profile::OneLogin, Profile::JumpCloud];

    /// The CLI's name: `okta`, `okta-put`, `entra`, `entra-flag`, `onelogin`, `jumpcloud`.
    pub fn id(self) -> &'static str {
        match self {
            Profile::Okta => "okta",
            Profile::OktaPut => "okta-put",
            Profile::Entra => "entra",
            Profile::EntraFlag => "entra-flag",
            Profile::OneLogin => "onelogin",
            Profile::JumpCloud => "jumpcloud",
        }
    }

    /// A name for people: "Okta (OIN app)".
    pub fn label(self) -> &'static str {
        match self {
            Profile::Okta => "Okta (OIN app)",
            Profile::OktaPut => "Okta (custom app, PUT only)",
            Profile::Entra => "Microsoft Entra ID",
            Profile::EntraFlag => "Microsoft Entra ID (aadOptscim062020)",
            Profile::OneLogin => "OneLogin",
            Profile::JumpCloud => "JumpCloud",
        }
    }

    /// The User-Agent the IdP sends, which is how a server recognises it.
    pub fn user_agent(self) -> &'static str {
        match self {
            Profile::Okta | Profile::OktaPut => "Okta SCIM Client 1.0.0",
            Profile::Entra | Profile::EntraFlag => "Microsoft-Azure-AD-Provisioning/1.0",
            Profile::OneLogin => "OneLogin SCIM",
            Profile::JumpCloud => "JumpCloud-SCIM/1.0",
        }
    }

    /// The Content-Type of request bodies.
    pub fn content_type(self) -> &'static str {
        match self {
            Profile::Okta | Profile::OktaPut | Profile::Entra | Profile::EntraFlag => "application/scim+json",
            Profile::OneLogin | Profile::JumpCloud => "application/json",
        }
    }

    /// Whether the IdP hard-deletes leavers after deactivating them. Okta never DELETEs users.
    pub fn deletes(self) -> bool {
        !matches!(self, Profile::Okta | Profile::OktaPut)
    }

    pub(crate) fn is_okta(self) -> bool {
        matches!(self, Profile::Okta | Profile::OktaPut)
    }

    pub(crate) fn is_entra(self) -> bool {
        matches!(self, Profile::Entra | Profile::EntraFlag)
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl std::str::FromStr for Profile {
    type Err = Error;

    fn from_str(s: &str) -> Result<Profile, Error> {
        Profile::ALL
            .into_iter()
            .find(|p| p.id().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownProfile(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Profile::ALL {
            assert_eq!(p.id().parse::<Profile>().unwrap(), p, "the CLI name parses back");
            assert_eq!(serde_json::to_value(p).unwrap(), p.id(), "JSON uses the CLI name");
        }
        assert!("google".parse::<Profile>().is_err());
    }
}
