"""The demo's two websites, served on 127.0.0.1: the host's own (where direct essays are published) and Dee's
newsletter (a cross-post, found in its feed on its day). The bot's real fetcher reaches them through
`LocalNames`, which knows these two names and no other, so the demo never connects beyond this machine."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime

from adapters.console.site import LocalNames, Site
from adapters.fetch import Fetcher, FetchSettings
from bot.clock import Clock

HOST, DEE = "symposium.example.com", "dee.example.com"
HOST_PAGES = {
    "/lazy": "Good data engineers are lazy",
    "/active-metadata": "Will active metadata eat the orchestrator",
    "/limits": "Limits of the Event-Driven Orchestrator",
    "/going-nowhere": "Orchestration isn't going anywhere",
}
# Dee publishes on her own newsletter on her day, a little after the arranged time (10:20 in New York).
DEE_ESSAY = ("Data Materialization is a Convergence Problem", "/p/convergence", "2023-03-23T14:20+00:00")


@asynccontextmanager
async def demo_fetcher(clock: Clock) -> AsyncIterator[Fetcher]:
    """The fetcher for the demo, with both sites serving until the block ends."""
    host, dee = Site(name="Is the orchestrator dead or alive?", clock=clock), Site(name="Convergent notes", clock=clock)
    host.pages.update(HOST_PAGES)
    dee.pages["/drafts/convergence"] = "Data Materialization is a Convergence Problem (draft)"
    async with AsyncExitStack() as stack:
        for name, site in ((HOST, host), (DEE, dee)):
            runner = await site.serve(base=f"http://{name}")
            stack.push_async_callback(runner.cleanup)
        title, path, at = DEE_ESSAY
        dee.publish(title, path, datetime.fromisoformat(at))
        settings = FetchSettings(fetch_allow_hosts="127.0.0.1")
        yield await stack.enter_async_context(Fetcher(settings, resolver=LocalNames({HOST: host, DEE: dee})))
