"""Diagonal Gaussians: posterior samples and the KL divergences the objectives need."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Gaussian:
    """A batch of diagonal Gaussians; ``mu`` and ``logvar`` are (B, d)."""

    mu: torch.Tensor
    logvar: torch.Tensor

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Reparameterised sample (B, d); gradients flow to mu and logvar."""
        eps = torch.randn(self.mu.shape, generator=generator, dtype=self.mu.dtype, device=self.mu.device)
        return self.mu + eps * torch.exp(0.5 * self.logvar)

    def detach(self) -> "Gaussian":
        return Gaussian(self.mu.detach(), self.logvar.detach())

    def __getitem__(self, index: slice) -> "Gaussian":
        """The Gaussian over the latent dimensions ``index`` (a slice of the last axis)."""
        return Gaussian(self.mu[..., index], self.logvar[..., index])

    def kl_to_prior(self) -> torch.Tensor:
        """KL(self || N(0, I)) summed over dimensions, (B,)."""
        return 0.5 * (self.mu.square() + self.logvar.exp() - 1.0 - self.logvar).sum(dim=-1)

    def kl_to(self, other: "Gaussian") -> torch.Tensor:
        """KL(self || other) summed over dimensions, (B,)."""
        var_ratio = (self.logvar - other.logvar).exp()
        mean_term = (self.mu - other.mu).square() * (-other.logvar).exp()
        return 0.5 * (var_ratio + mean_term - 1.0 - (self.logvar - other.logvar)).sum(dim=-1)


def concat(parts: list[Gaussian]) -> Gaussian:
    """Gaussians over consecutive latent blocks -> one over their concatenation."""
    return Gaussian(torch.cat([p.mu for p in parts], dim=-1), torch.cat([p.logvar for p in parts], dim=-1))
