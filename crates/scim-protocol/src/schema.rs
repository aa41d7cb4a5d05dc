//! The schemas this server implements (RFC 7643 §4, §8.7): User, Group and the enterprise
//! User extension, as static attribute definitions. Filters, PATCH and validation look
//! attributes up here for their type, `caseExact` and `mutability`; `/Schemas` renders them.

use serde_json::{Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// SCIM 1.1's core schema, one URN for users and groups. OneLogin templates still send it.
pub const SCIM1_CORE_SCHEMA: &str = "urn:scim:schemas:core:1.0";
/// SCIM 1.1's enterprise extension, which became [`ENTERPRISE_USER_SCHEMA`].
pub const SCIM1_ENTERPRISE_SCHEMA: &str = "urn:scim:schemas:extension:enterprise:1.0";

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// RFC 7643 §2.2 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// RFC 7643 §2.2 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// One attribute definition.
#[derive(Debug, Clone, Copy)]
pub struct AttrDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    /// `server` uniqueness (only `userName`, and `id`); everything else is `none`.
    pub unique: bool,
    pub description: &'static str,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttrDef],
}

impl AttrDef {
    /// Finds a sub-attribute by name, ignoring case (RFC 7643 §2.1: names are case-insensitive).
    pub fn sub(&self, name: &str) -> Option<&'static AttrDef> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Renders the definition for `/Schemas`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": self.ty.as_str(),
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "mutability": match self.mutability {
                Mutability::ReadOnly => "readOnly",
                Mutability::ReadWrite => "readWrite",
                Mutability::Immutable => "immutable",
                Mutability::WriteOnly => "writeOnly",
            },
            "returned": match self.returned {
                Returned::Always => "always",
                Returned::Never => "never",
                Returned::Default => "default",
                Returned::Request => "request",
            },
        });
        if matches!(self.ty, AttrType::String | AttrType::Reference | AttrType::Binary) {
            v["caseExact"] = json!(self.case_exact);
            v["uniqueness"] = json!(if self.unique { "server" } else { "none" });
        }
        if !self.canonical_values.is_empty() {
            v["canonicalValues"] = json!(self.canonical_values);
        }
        if self.ty == AttrType::Reference {
            v["referenceTypes"] = json!(self.reference_types);
        }
        if self.ty == AttrType::Complex {
            v["subAttributes"] = Value::Array(self.sub_attributes.iter().map(AttrDef::to_json).collect());
        }
        v
    }
}

const fn attr(name: &'static str, ty: AttrType, description: &'static str) -> AttrDef {
    AttrDef {
        name,
        ty,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        unique: false,
        description,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
    }
}

const fn s(name: &'static str, description: &'static str) -> AttrDef {
    attr(name, AttrType::String, description)
}

const fn complex(name: &'static str, description: &'static str, subs: &'static [AttrDef]) -> AttrDef {
    let mut a = attr(name, AttrType::Complex, description);
    a.sub_attributes = subs;
    a
}

const fn multi(mut a: AttrDef) -> AttrDef {
    a.multi_valued = true;
    a
}

const fn required(mut a: AttrDef) -> AttrDef {
    a.required = true;
    a
}

const fn exact(mut a: AttrDef) -> AttrDef {
    a.case_exact = true;
    a
}

const fn read_only(mut a: AttrDef) -> AttrDef {
    a.mutability = Mutability::ReadOnly;
    a
}

const fn immutable(mut a: AttrDef) -> AttrDef {
    a.mutability = Mutability::Immutable;
    a
}

const fn canonical(mut a: AttrDef, values: &'static [&'static str]) -> AttrDef {
    a.canonical_values = values;
    a
}

const fn reference(name: &'static str, types: &'static [&'static str], d: &'static str) -> AttrDef {
    let mut a = attr(name, AttrType::Reference, d);
    a.reference_types = types;
    a
}

/// The sub-attributes of the core multi-valued attributes (RFC 7643 §2.4).
const fn mv(kinds: &'static [&'static str], value_desc: &'static str) -> [AttrDef; 4] {
    [
        s("value", value_desc),
        s("display", "A human-readable name, primarily used for display purposes."),
        canonical(s("type", "A label indicating the attribute's function."), kinds),
        attr("primary", AttrType::Boolean, "Indicates the primary or preferred value."),
    ]
}

const EMAIL_SUBS: [AttrDef; 4] = mv(&["work", "home", "other"], "Email address for the user.");
const PHONE_SUBS: [AttrDef; 4] = mv(&["work", "home", "mobile", "fax", "pager", "other"], "Phone number of the user.");
const IMS_SUBS: [AttrDef; 4] =
    mv(&["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"], "Instant messaging address.");
const PHOTO_SUBS: [AttrDef; 4] = mv(&["photo", "thumbnail"], "URL of a photo of the user.");
const PLAIN_SUBS: [AttrDef; 4] = mv(&[], "The value of the item.");
const CERT_SUBS: [AttrDef; 4] = mv(&[], "The value of an X.509 certificate (base64 DER).");

const NAME_SUBS: [AttrDef; 6] = [
    s("formatted", "The full name, formatted for display."),
    s("familyName", "The family name of the user."),
    s("givenName", "The given name of the user."),
    s("middleName", "The middle name(s) of the user."),
    s("honorificPrefix", "The honorific prefix(es) of the user."),
    s("honorificSuffix", "The honorific suffix(es) of the user."),
];

const ADDRESS_SUBS: [AttrDef; 9] = [
    s("formatted", "The full mailing address, formatted for display."),
    s("streetAddress", "The full street address component."),
    s("locality", "The city or locality component."),
    s("region", "The state or region component."),
    s("postalCode", "The zip code or postal code component."),
    s("country", "The country name component."),
    canonical(s("type", "A label indicating the attribute's function."), &["work", "home", "other"]),
    attr("primary", AttrType::Boolean, "Indicates the primary mailing address."),
    s("display", "A human-readable name, primarily used for display purposes."),
];

const USER_GROUP_SUBS: [AttrDef; 4] = [
    read_only(s("value", "The identifier of the user's group.")),
    read_only(reference("$ref", &["Group"], "The URI of the group.")),
    read_only(s("display", "The display name of the group.")),
    read_only(canonical(s("type", "How the membership was derived."), &["direct", "indirect"])),
];

const MEMBER_SUBS: [AttrDef; 4] = [
    immutable(exact(s("value", "Identifier of the member of this group."))),
    immutable(reference("$ref", &["User", "Group"], "The URI of the member.")),
    s("display", "A human-readable name of the member."),
    immutable(canonical(s("type", "The type of the member."), &["User", "Group"])),
];

const MANAGER_SUBS: [AttrDef; 3] = [
    s("value", "The id of the SCIM resource representing the user's manager."),
    reference("$ref", &["User"], "The URI of the manager."),
    read_only(s("displayName", "The display name of the user's manager.")),
];

/// The common attributes every resource has (RFC 7643 §3.1), checked before the schema's own.
pub const COMMON_ATTRIBUTES: &[AttrDef] = &[
    {
        let mut a = read_only(exact(s("id", "Unique identifier for the resource, assigned by the service provider.")));
        a.returned = Returned::Always;
        a.unique = true;
        a
    },
    exact(s("externalId", "An identifier for the resource as defined by the provisioning client.")),
    read_only(complex(
        "meta",
        "Resource metadata.",
        &[
            read_only(exact(s("resourceType", "The name of the resource type."))),
            read_only(attr("created", AttrType::DateTime, "When the resource was added.")),
            read_only(attr("lastModified", AttrType::DateTime, "When the resource was last updated.")),
            read_only(exact(reference("location", &["uri"], "The URI of the resource."))),
            read_only(exact(s("version", "The version (entity tag) of the resource."))),
        ],
    )),
];

pub const USER_ATTRIBUTES: &[AttrDef] = &[
    {
        let mut a = required(s("userName", "Unique identifier for the user; TalkWriter's email address."));
        a.unique = true;
        a
    },
    complex("name", "The components of the user's real name.", &NAME_SUBS),
    s("displayName", "The name of the user, suitable for display."),
    s("nickName", "The casual way to address the user."),
    reference("profileUrl", &["external"], "A URI to the user's online profile."),
    s("title", "The user's title, such as \"Vice President\"."),
    s("userType", "The relationship between the organization and the user."),
    s("preferredLanguage", "The user's preferred written or spoken language."),
    s("locale", "The user's default location for localization."),
    s("timezone", "The user's time zone in IANA format."),
    attr("active", AttrType::Boolean, "The user's administrative status: false suspends access."),
    {
        let mut a = s("password", "The user's cleartext password; never stored or returned.");
        a.mutability = Mutability::WriteOnly;
        a.returned = Returned::Never;
        a
    },
    multi(complex("emails", "Email addresses for the user.", &EMAIL_SUBS)),
    multi(complex("phoneNumbers", "Phone numbers for the user.", &PHONE_SUBS)),
    multi(complex("ims", "Instant messaging addresses for the user.", &IMS_SUBS)),
    multi(complex("photos", "URLs of photos of the user.", &PHOTO_SUBS)),
    multi(complex("addresses", "Physical mailing addresses for this user.", &ADDRESS_SUBS)),
    read_only(multi(complex("groups", "The groups the user belongs to; computed.", &USER_GROUP_SUBS))),
    multi(complex("entitlements", "Entitlements of the user.", &PLAIN_SUBS)),
    multi(complex("roles", "Roles of the user.", &PLAIN_SUBS)),
    multi(complex("x509Certificates", "X.509 certificates of the user.", &CERT_SUBS)),
];

pub const ENTERPRISE_USER_ATTRIBUTES: &[AttrDef] = &[
    s("employeeNumber", "Numeric or alphanumeric identifier assigned to a person."),
    s("costCenter", "Identifies the name of a cost center."),
    s("organization", "Identifies the name of an organization."),
    s("division", "Identifies the name of a division."),
    s("department", "Identifies the name of a department."),
    complex("manager", "The user's manager.", &MANAGER_SUBS),
];

pub const GROUP_ATTRIBUTES: &[AttrDef] = &[
    required(s("displayName", "A human-readable name for the group.")),
    multi(complex("members", "A list of members of the group.", &MEMBER_SUBS)),
];

/// A schema: its URN, name and attributes.
#[derive(Debug, Clone, Copy)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttrDef],
}

pub const USER: SchemaDef =
    SchemaDef { id: USER_SCHEMA, name: "User", description: "User Account", attributes: USER_ATTRIBUTES };
pub const ENTERPRISE_USER: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_USER_ATTRIBUTES,
};
pub const GROUP: SchemaDef =
    SchemaDef { id: GROUP_SCHEMA, name: "Group", description: "Group", attributes: GROUP_ATTRIBUTES };

/// All schemas, in the order `/Schemas` lists them.
pub const ALL_SCHEMAS: &[SchemaDef] = &[USER, GROUP, ENTERPRISE_USER];

impl SchemaDef {
    pub fn attr(&self, name: &str) -> Option<&'static AttrDef> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Renders the schema for `/Schemas/{id}`.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(AttrDef::to_json).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base_url}/Schemas/{}", self.id),
            }
        })
    }
}

/// The two resource types this server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The endpoint path segment, e.g. `Users`.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }

    pub fn core(self) -> &'static SchemaDef {
        match self {
            ResourceKind::User => &USER,
            ResourceKind::Group => &GROUP,
        }
    }

    pub fn extensions(self) -> &'static [SchemaDef] {
        match self {
            ResourceKind::User => std::slice::from_ref(&ENTERPRISE_USER),
            ResourceKind::Group => &[],
        }
    }

    /// Renders the resource type for `/ResourceTypes/{name}`.
    pub fn to_json(self, base_url: &str) -> Value {
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": self.name(),
            "name": self.name(),
            "endpoint": format!("/{}", self.endpoint()),
            "description": match self {
                ResourceKind::User => "User Account",
                ResourceKind::Group => "Group",
            },
            "schema": self.core().id,
            "schemaExtensions": self.extensions().iter()
                .map(|e| json!({"schema": e.id, "required": false}))
                .collect::<Vec<_>>(),
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/{}", self.name()),
            }
        })
    }

    /// Looks up a top-level attribute, optionally qualified by a schema URN. The URN must be
    /// one of this resource's schemas; names ignore case. Common attributes come first.
    pub fn find_attr(self, urn: Option<&str>, name: &str) -> Option<(&'static SchemaDef, &'static AttrDef)> {
        let schemas = std::iter::once(self.core()).chain(self.extensions().iter());
        match urn {
            Some(urn) => {
                let schema = schemas.into_iter().find(|s| s.id.eq_ignore_ascii_case(urn))?;
                if schema.id == self.core().id
                    && let Some(a) = COMMON_ATTRIBUTES.iter().find(|a| a.name.eq_ignore_ascii_case(name))
                {
                    return Some((self.core(), a));
                }
                schema.attr(name).map(|a| (schema, a))
            }
            None => {
                if let Some(a) = COMMON_ATTRIBUTES.iter().find(|a| a.name.eq_ignore_ascii_case(name)) {
                    return Some((self.core(), a));
                }
                self.core().attr(name).map(|a| (self.core(), a))
            }
        }
    }

    /// The extension schema whose URN this is, ignoring case.
    pub fn extension(self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions().iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The schema of this resource a SCIM 1.1 URN stands for, ignoring case: the core 1.0 URN
    /// is the core schema, the enterprise 1.0 URN the enterprise extension (users only).
    pub fn scim1_schema(self, urn: &str) -> Option<&'static SchemaDef> {
        if urn.eq_ignore_ascii_case(SCIM1_CORE_SCHEMA) {
            Some(self.core())
        } else if urn.eq_ignore_ascii_case(SCIM1_ENTERPRISE_SCHEMA) {
            self.extension(ENTERPRISE_USER_SCHEMA)
        } else {
            None
        }
    }
}
