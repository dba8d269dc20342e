//! `switchyard mock-providers`: the mock provider server, run by hand.

use anyhow::Result;
use switchyard_nodes::cloud::PROVIDERS;

use super::Exit;

pub fn serve(port: u16) -> Result<Exit> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let mock = switchyard_mock::MockServer::start(port).await?;
        println!("mock partner providers (a mock: nothing is generated or charged) at {}", mock.url());
        println!("point Switchyard at it with a settings file such as:\n");
        for info in PROVIDERS {
            println!("[providers.{}]\nbase_url = \"{}\"\n", info.name, mock.base_url(info.name));
        }
        println!("and the keys it accepts:");
        for info in PROVIDERS {
            let key = switchyard_mock::keys::ALL.iter().find(|(n, _)| *n == info.name).map_or("", |(_, k)| k);
            println!("  {}={key}", info.key_env);
        }
        tokio::signal::ctrl_c().await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Exit::Ok)
}
