"""The config file: dregsy's YAML keys, validated once into frozen typed values."""
