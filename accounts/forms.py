from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import UserCreationForm


class SignupForm(UserCreationForm):
    """Django's sign-up form plus an optional e-mail address, which password reset needs."""

    email = forms.EmailField(
        required=False, max_length=254, help_text="Optional; needed to reset a forgotten password."
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


class DeleteAccountForm(forms.Form):
    """The user's password again, checked through authenticate(): django-axes counts a wrong one as a failed login,
    so a borrowed session cannot guess its way to deleting the account."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_password(self):
        password = self.cleaned_data["password"]
        user = self.request.user
        confirmed = authenticate(self.request, username=user.get_username(), password=password)
        if confirmed is None or confirmed.pk != user.pk:
            raise forms.ValidationError("That is not your password.", code="password_incorrect")
        return password
