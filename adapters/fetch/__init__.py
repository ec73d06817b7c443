"""Fetching user-given URLs without SSRF: is an essay live, what is in an author's feed, where is the feed."""

from adapters.fetch.client import Fetcher
from adapters.fetch.guard import AddressGuard, GuardedResolver, Refused, address_problem
from adapters.fetch.settings import FetchSettings

__all__ = ["AddressGuard", "FetchSettings", "Fetcher", "GuardedResolver", "Refused", "address_problem"]
