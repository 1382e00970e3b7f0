//! `berth cert`: make keys and certificates, and show what certificate files hold.

use std::process::ExitCode;

use super::args::CertCommand;

pub fn run(command: CertCommand) -> anyhow::Result<ExitCode> {
    match command {
        CertCommand::New {
            name,
            out,
            common_name,
            bits,
            days,
            pkcs12_password,
        } => {
            let request = crate::cert::NewCertificate {
                common_name: common_name.unwrap_or_else(|| name.clone()),
                name,
                out_dir: out,
                bits,
                days,
                pkcs12_password,
            };
            for file in crate::cert::new_certificate(&request)? {
                println!("wrote {}", file.display());
            }
        }
        CertCommand::Show { file, password } => {
            print!("{}", crate::cert::show(&file, password.as_deref())?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
