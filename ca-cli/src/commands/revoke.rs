//! `robotid revoke | hold | release`: changing whether a robot's
//! certificate may be trusted.

use robotid_wire::revocation::{RevocationResponse, RevokeRequest};

use crate::cli::{HoldRelease, Revoke};
use crate::client::Client;
use crate::error::CliError;

fn report(r: &RevocationResponse) {
    let already = if r.changed {
        ""
    } else {
        " (already so; nothing changed)"
    };
    let line = match r.status.as_str() {
        "good" => format!(
            "{}: certificate {} released from hold; it is good again{already}",
            r.robot_id, r.serial
        ),
        "on_hold" => format!(
            "{}: certificate {} on hold since {}{already}",
            r.robot_id, r.serial, r.revoked_at
        ),
        _ => format!(
            "{}: certificate {} revoked ({}) since {}{already}",
            r.robot_id, r.serial, r.reason, r.revoked_at
        ),
    };
    // The server's words: escaped for the terminal.
    println!("{}", robotid_verifier::text::terminal(&line));
}

/// Path segments are checked here so that a stray `/` or `?` cannot send
/// the request to another endpoint.
fn segment(field: &str, value: &str) -> Result<String, CliError> {
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(CliError::Input(format!(
            "--{field} {value:?}: only letters, digits and hyphens"
        )));
    }
    Ok(value.to_owned())
}

/// Revokes by robot (its live certificate) or by serial.
pub fn revoke(args: &Revoke) -> Result<(), CliError> {
    let path = match (&args.robot, &args.serial) {
        (Some(robot), None) => format!("/api/v1/robots/{}/revoke", segment("robot", robot)?),
        (None, Some(serial)) => {
            format!("/api/v1/certificates/{}/revoke", segment("serial", serial)?)
        }
        _ => {
            return Err(CliError::Input(
                "name the certificate with exactly one of --robot ID or --serial HEX".into(),
            ));
        }
    };
    let client = Client::new(&args.server.server, &args.server.credentials()?)?;
    let response: RevocationResponse = client.post_json(
        &path,
        &RevokeRequest {
            reason: args.reason.clone(),
        },
    )?;
    report(&response);
    Ok(())
}

fn hold_or_release(args: &HoldRelease, action: &str) -> Result<(), CliError> {
    let path = format!("/api/v1/robots/{}/{action}", segment("robot", &args.robot)?);
    let client = Client::new(&args.server.server, &args.server.credentials()?)?;
    let response: RevocationResponse = client.post_json(&path, &serde_json::json!({}))?;
    report(&response);
    Ok(())
}

/// Puts the robot's live certificate on hold.
pub fn hold(args: &HoldRelease) -> Result<(), CliError> {
    hold_or_release(args, "hold")
}

/// Lifts the hold on the robot's live certificate.
pub fn release(args: &HoldRelease) -> Result<(), CliError> {
    hold_or_release(args, "release")
}
