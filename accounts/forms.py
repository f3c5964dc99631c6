from django import forms
from django.contrib.auth.forms import UserCreationForm


class SignupForm(UserCreationForm):
    """Django's sign-up form plus an optional e-mail address, which password reset needs."""

    email = forms.EmailField(
        required=False, max_length=254, help_text="Optional; needed to reset a forgotten password."
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")
