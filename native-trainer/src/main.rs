//! `native-trainer`: makes, trains, evaluates and exports DeblurGAN generators.

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::Device;
use clap::{Parser, Subcommand, ValueEnum};
use deblurgan::model::GeneratorConfig;
use deblurgan::weights::{self, Precision};

#[derive(Parser, Debug)]
#[command(version, about = "Train, evaluate and export DeblurGAN generators")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// A named generator configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Architecture {
    /// The design notes' generator: 64 channels, 9 blocks, BatchNorm (11.4 M parameters).
    Full,
    /// 32 channels, 6 blocks: fast on CPUs and in browsers (2 M parameters).
    Compact,
    /// The official PyTorch DeblurGAN: InstanceNorm, transposed convolutions.
    Official,
}

impl Architecture {
    fn config(self) -> GeneratorConfig {
        match self {
            Architecture::Full => GeneratorConfig::keras(),
            Architecture::Compact => GeneratorConfig::compact(),
            Architecture::Official => GeneratorConfig::official(),
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Writes a freshly initialised (untrained) generator: a placeholder, or a start point.
    Init {
        /// Output weights file (.bpk or .safetensors).
        #[arg(short, long)]
        output: PathBuf,
        /// Which generator.
        #[arg(long, value_enum, default_value = "compact")]
        architecture: Architecture,
        /// Store the weights as 16-bit floats.
        #[arg(long)]
        f16: bool,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Init {
            output,
            architecture,
            f16,
        } => {
            let config = architecture.config();
            let generator = config.init(&Device::flex());
            let precision = if f16 { Precision::F16 } else { Precision::F32 };
            weights::save_to_file(&generator, &config, &output, precision)
                .with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!("wrote {} ({})", output.display(), weights::describe(&config));
            Ok(())
        }
    }
}
