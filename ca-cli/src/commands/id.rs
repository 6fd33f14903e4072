//! `robotid id new | check`.

use robotid_verifier::robot_id::RobotId;

use crate::cli::{IdCheck, IdNew};
use crate::error::CliError;

pub fn new(args: &IdNew) -> Result<(), CliError> {
    let id = RobotId::new(&args.manufacturer, &args.model, &args.serial)
        .map_err(|e| CliError::Input(e.to_string()))?;
    println!("{id}");
    Ok(())
}

pub fn check(args: &IdCheck) -> Result<(), CliError> {
    let mut bad = 0usize;
    for text in &args.ids {
        match RobotId::parse(text) {
            Ok(id) => println!("{id}: valid"),
            Err(e) => {
                bad += 1;
                println!(
                    "{}",
                    robotid_verifier::text::terminal(&format!("{text}: invalid: {e}"))
                );
            }
        }
    }
    match bad {
        0 => Ok(()),
        n => Err(CliError::Refused(format!(
            "{n} of {} robot IDs are invalid",
            args.ids.len()
        ))),
    }
}
