"""Request bodies of the token service's /v1 routes, validated with pydantic."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

MAX_TOKEN_LENGTH = 8192


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    generation: StrictInt = Field(ge=0, description="generation of the token that got a 401")


class CredentialsRequest(BaseModel):
    """Either a fresh access code, or a refresh token (with its access token if known)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    # Real codes and tokens are a few hundred to a couple of thousand characters.
    access_code: StrictStr | None = Field(default=None, min_length=8, max_length=MAX_TOKEN_LENGTH)
    refresh_token: StrictStr | None = Field(default=None, min_length=8, max_length=MAX_TOKEN_LENGTH)
    # Accepted for compatibility and ignored: the refresh token is tried before it is
    # installed, and that refresh returns a fresh access token.
    access_token: StrictStr | None = Field(default=None, min_length=8, max_length=MAX_TOKEN_LENGTH)

    @model_validator(mode="after")
    def exactly_one_credential(self) -> CredentialsRequest:
        if (self.access_code is None) == (self.refresh_token is None):
            raise ValueError("give exactly one of access_code or refresh_token")
        if self.access_code is not None and self.access_token is not None:
            raise ValueError("access_token goes with refresh_token, not with access_code")
        return self
