//! Choosing where the networks run: a GPU through wgpu (Vulkan, Metal, DX12), or the CPU
//! through burn's Flex backend.

use burn::tensor::Device;
use burn::tensor::wgpu::wgpu;

/// Where to run, as asked on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
    /// A GPU through wgpu; the CPU if no GPU adapter exists.
    Gpu,
    /// The CPU (burn Flex).
    Cpu,
}

/// The device picked, and words for the user about it.
pub struct SelectedDevice {
    /// The device to run on.
    pub device: Device,
    /// "GPU (wgpu)" or "CPU (Flex)", with the reason for a fallback.
    pub description: String,
}

/// Initialises the device asked for. A GPU request without a usable adapter falls back to the
/// CPU, and the description says so.
pub fn select_device(choice: DeviceChoice) -> SelectedDevice {
    let cpu = |why: String| SelectedDevice {
        device: Device::flex(),
        description: format!("CPU (burn Flex){why}"),
    };
    match choice {
        DeviceChoice::Cpu => cpu(String::new()),
        DeviceChoice::Gpu => {
            // Adapter discovery can panic inside drivers; treat that as "no GPU" too.
            let attempt = std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup());
            match attempt {
                Ok(Ok((device, setup))) => {
                    let adapter = setup.adapter.get_info();
                    if adapter.device_type == wgpu::DeviceType::Cpu {
                        return cpu(format!(
                            ": wgpu found only a software adapter ({}), slower than Flex",
                            adapter.name
                        ));
                    }
                    SelectedDevice {
                        device,
                        description: format!("GPU {} (burn wgpu, {:?})", adapter.name, setup.backend),
                    }
                }
                Ok(Err(error)) => cpu(format!(
                    ": no GPU adapter could be used ({error}), falling back to the CPU"
                )),
                Err(_) => cpu(": the GPU driver failed to start, falling back to the CPU".into()),
            }
        }
    }
}
