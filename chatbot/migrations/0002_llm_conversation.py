"""The conversation the LLM service holds, apart from the session's stable key (issue: prompt changes reach the
model), and portal notices in the history."""
import chatbot.models
from django.db import migrations, models


def existing_sessions_keep_their_conversation(apps, schema_editor):
    # Until now the session key was the MQTT sessionId: keep talking to the same LLM conversation.
    ChatSession = apps.get_model("chatbot", "ChatSession")
    ChatSession.objects.update(llm_session_key=models.F("session_key"))


class Migration(migrations.Migration):

    dependencies = [
        ("chatbot", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="chatsession",
            name="llm_session_key",
            field=models.CharField(default=chatbot.models.new_session_key, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="chatsession",
            name="llm_system_prompt",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="chatsession",
            name="llm_open_request",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="chatsession",
            name="llm_open_holder",
            field=models.CharField(blank=True, editable=False, max_length=200),
        ),
        migrations.AddField(
            model_name="chatsession",
            name="llm_open_until",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="chatmessage",
            name="role",
            field=models.CharField(
                choices=[("user", "User"), ("assistant", "Assistant"), ("notice", "Notice")], max_length=16
            ),
        ),
        migrations.RunPython(existing_sessions_keep_their_conversation, migrations.RunPython.noop),
    ]
