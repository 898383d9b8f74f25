"""The device side of the Aliyun sign (docs/protocol.md "Logging in", "The cloud side"), written independently of the
server's C++ so the tests check one against the other."""

from __future__ import annotations

import hashlib
import hmac
from typing import Dict, Optional

_HASHES = {"hmacmd5": hashlib.md5, "hmacsha1": hashlib.sha1, "hmacsha256": hashlib.sha256}


def hmac_hex(method: str, key: str, content: str) -> str:
    return hmac.new(key.encode(), content.encode(), _HASHES[method.lower()]).hexdigest()


def device_credentials(pk: str, dn: str, ds: str, client_id: str = "test", method: str = "hmacsha1",
                       securemode: int = 3, timestamp: Optional[str] = "1700000000000",
                       ss: bool = False, extra: str = "") -> Dict[str, str]:
    fields = {"clientId": client_id, "deviceName": dn, "productKey": pk}
    if timestamp is not None:
        fields["timestamp"] = timestamp
    content = "".join(k + fields[k] for k in sorted(fields))
    block = [f"securemode={securemode}", f"signmethod={method}"]
    if timestamp is not None:
        block.append(f"timestamp={timestamp}")
    if ss:
        block.append("_ss=1")
    if extra:
        block.append(extra)
    return {"client_id": f"{client_id}|{','.join(block)}|", "username": f"{dn}&{pk}",
            "password": hmac_hex(method, ds, content)}


def app_credentials(app_key: str, app_secret: str, client_id: str = "backend",
                    timestamp: str = "1700000000000") -> Dict[str, str]:
    content = f"appKey{app_key}clientId{client_id}timestamp{timestamp}"
    return {"client_id": f"{client_id}|authType=app,signmethod=hmacsha256,timestamp={timestamp}|",
            "username": app_key, "password": hmac_hex("hmacsha256", app_secret, content)}
