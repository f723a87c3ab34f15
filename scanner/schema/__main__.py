"""Print the generated schema: python -m scanner.schema > scanner/schema/scan.schema.json"""

import json

from scanner.schema import generate

print(json.dumps(generate(), indent=2, sort_keys=True))
