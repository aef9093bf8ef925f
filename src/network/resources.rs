//! `rebalanser resources`: the administrator's changes, and a look at the group.

use super::target::RegistryTarget;
use clap::{Args, Subcommand};
use net::admin::Admin;
use protocol::ResourceId;
use std::process::ExitCode;

/// Add or remove a group's resources, or list the group.
#[derive(Args, Debug)]
pub struct ResourcesArgs {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    target: RegistryTarget,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// Add resources (existing ones are left as they are).
    Add {
        /// Resource names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove resources: their owners stop them, then release them.
    Remove {
        /// Resource names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Print the group: members, leader, resources, the assignment and the barriers.
    List,
}

pub async fn run(args: ResourcesArgs) -> Result<ExitCode, String> {
    let backend = args.target.backend()?;
    let mut admin = Admin::open(&*backend);
    match args.action {
        Action::Add { names } | Action::Remove { names }
            if names
                .iter()
                .any(|n| net::wire::valid_name("resource", n).is_err()) =>
        {
            let bad = names
                .iter()
                .find_map(|n| net::wire::valid_name("resource", n).err())
                .unwrap_or_default();
            Err(bad)
        }
        Action::Add { names } => {
            for n in &names {
                admin.add_resource(&ResourceId::new(n)).await?;
            }
            println!("added {}", names.join(", "));
            Ok(ExitCode::SUCCESS)
        }
        Action::Remove { names } => {
            for n in &names {
                admin.remove_resource(&ResourceId::new(n)).await?;
            }
            println!("removed {}", names.join(", "));
            Ok(ExitCode::SUCCESS)
        }
        Action::List => {
            let v = admin.view().await?;
            println!("group {} at revision {}", args.target.group, v.rev);
            let leader = v.leader.as_ref().map(|(s, t)| format!("{s} (term {t})"));
            println!("leader: {}", leader.unwrap_or_else(|| "none".into()));
            for n in v.members_by_seniority() {
                let share: Vec<String> = v
                    .assignment
                    .as_ref()
                    .map(|a| a.share(&n).map(|r| r.to_string()).collect())
                    .unwrap_or_default();
                println!("member {n}: {}", share.join(" "));
            }
            let res: Vec<String> = v.resources.iter().map(|r| r.to_string()).collect();
            println!("resources ({}): {}", res.len(), res.join(" "));
            for (r, (s, _)) in &v.barriers {
                println!("barrier {r}: {s}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
