//! The technical parameters a robot certificate may carry, and their units.
//!
//! Each name carries its unit, so a rule file or a manifest can never be read
//! in the wrong unit; the unit is also stored in the certificate. Adding a
//! parameter is a profile change: document it in docs/profile/README.md.

/// A known parameter: its name (as in manifests, rules and certificates), its
/// unit, and what it measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParameterSpec {
    /// Name, e.g. `height_mm`.
    pub name: &'static str,
    /// Unit as stored in the certificate, e.g. `mm`.
    pub unit: &'static str,
    /// What it measures.
    pub meaning: &'static str,
}

const fn spec(name: &'static str, unit: &'static str, meaning: &'static str) -> ParameterSpec {
    ParameterSpec {
        name,
        unit,
        meaning,
    }
}

/// Every parameter of profile version 1.
pub const KNOWN: &[ParameterSpec] = &[
    spec("height_mm", "mm", "standing height"),
    spec("mass_g", "g", "mass, ready to operate, battery included"),
    spec("degrees_of_freedom", "1", "number of actuated joints"),
    spec("payload_g", "g", "rated payload"),
    spec("battery_mwh", "mWh", "rated battery energy"),
    spec("max_speed_mm_s", "mm/s", "maximum walking speed"),
    spec("max_joint_torque_mnm", "mN·m", "largest rated joint torque"),
    spec(
        "operating_time_min",
        "min",
        "rated operating time on one charge",
    ),
    spec(
        "ip_rating",
        "IP",
        "ingress protection code as two digits, e.g. 54 for IP54",
    ),
];

/// The specification of parameter `name`, if it is known.
pub fn lookup(name: &str) -> Option<&'static ParameterSpec> {
    KNOWN.iter().find(|p| p.name == name)
}

/// The known names, comma separated, for error messages.
pub fn known_names() -> String {
    KNOWN.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}
