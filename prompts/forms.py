from django import forms

from .models import PromptTemplate


class PromptTemplateForm(forms.ModelForm):
    class Meta:
        model = PromptTemplate
        fields = ["title", "description", "content", "is_active"]
        widgets = {"content": forms.Textarea(attrs={"rows": 14}), "description": forms.Textarea(attrs={"rows": 3})}
