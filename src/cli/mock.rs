//! `switchyard mock-providers`: the mock provider server, run by hand.

use anyhow::Result;

use super::Exit;

pub fn serve(port: u16) -> Result<Exit> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let mock = switchyard_mock::MockServer::start(port).await?;
        let url = mock.url();
        println!("mock partner providers (a mock: nothing is generated or charged) at {url}");
        println!("point Switchyard at it with a settings file such as:\n");
        for provider in ["openai", "bfl"] {
            println!("[providers.{provider}]\nbase_url = \"{url}\"\n");
        }
        println!(
            "and the keys it accepts: OPENAI_API_KEY={} BFL_API_KEY={}",
            switchyard_mock::keys::OPENAI,
            switchyard_mock::keys::BFL
        );
        tokio::signal::ctrl_c().await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Exit::Ok)
}
