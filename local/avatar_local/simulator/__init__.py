"""A local stand-in for the hosted avatar-generation APIs, speaking their documented protocols."""

from .server import ProviderSimulator
from .settings import SimulatorSettings

__all__ = ["ProviderSimulator", "SimulatorSettings"]
