from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Input serializer that refuses fields it does not know.

    A client-sent ``appId``, ``id`` or key hash must never be silently accepted as if it mattered.
    """

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable error code, e.g. `invalid_api_key`.")
    detail = serializers.CharField(help_text="A sentence for humans.")
    fields = serializers.DictField(required=False, help_text="Per-field messages for validation errors.")
