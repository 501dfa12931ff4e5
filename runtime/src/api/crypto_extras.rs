//! The ops behind the Web Crypto extensions Cloudflare Workers has and
//! deno_crypto lacks (`runtime/js/crypto_extras.js`): MD5 in `digest`,
//! `crypto.DigestStream`'s incremental hash, and AES-GCM decryption with the
//! tag lengths shorter than 128 bits that the spec allows.
//!
//! Hashing runs on the isolate's thread, so its CPU time is the worker's and
//! the CPU limit stops it like any other work.

use std::cell::RefCell;

use aes_gcm::aead::generic_array::typenum::{U12, U16};
use aes_gcm::aead::generic_array::{ArrayLength, GenericArray};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{AesGcm, Nonce};
use deno_core::{op2, v8, GarbageCollected};
use deno_error::JsErrorBox;
use sha2::Digest as _;
use subtle::ConstantTimeEq;

/// A hash in progress, for one `DigestStream`.
enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// `algorithm` is the normalised name (crypto_extras.js upper-cases it).
    fn new(algorithm: &str) -> Result<Self, JsErrorBox> {
        Ok(match algorithm {
            "MD5" => Self::Md5(md5::Md5::new()),
            "SHA-1" => Self::Sha1(sha1::Sha1::new()),
            "SHA-256" => Self::Sha256(sha2::Sha256::new()),
            "SHA-384" => Self::Sha384(sha2::Sha384::new()),
            "SHA-512" => Self::Sha512(sha2::Sha512::new()),
            _ => {
                return Err(JsErrorBox::new(
                    "DOMExceptionNotSupportedError",
                    "Unrecognized or unimplemented digest algorithm requested.",
                ))
            }
        })
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Md5(hasher) => hasher.update(data),
            Self::Sha1(hasher) => hasher.update(data),
            Self::Sha256(hasher) => hasher.update(data),
            Self::Sha384(hasher) => hasher.update(data),
            Self::Sha512(hasher) => hasher.update(data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Self::Md5(hasher) => hasher.finalize().to_vec(),
            Self::Sha1(hasher) => hasher.finalize().to_vec(),
            Self::Sha256(hasher) => hasher.finalize().to_vec(),
            Self::Sha384(hasher) => hasher.finalize().to_vec(),
            Self::Sha512(hasher) => hasher.finalize().to_vec(),
        }
    }
}

/// One-shot digest for the algorithms deno_crypto does not have (MD5).
#[op2]
#[buffer]
pub fn op_brink_digest(#[string] algorithm: &str, #[anybuffer] data: &[u8]) -> Result<Vec<u8>, JsErrorBox> {
    let mut hasher = Hasher::new(algorithm)?;
    hasher.update(data);
    Ok(hasher.finish())
}

/// The state of one `DigestStream`, owned by the JS object: the garbage
/// collector frees it with the stream, so an abandoned stream leaks nothing.
pub struct DigestState(RefCell<Option<Hasher>>);

// SAFETY: holds no references into the JS heap, so there is nothing to trace.
unsafe impl GarbageCollected for DigestState {
    fn trace(&self, _visitor: &mut v8::cppgc::Visitor) {}

    fn get_name(&self) -> &'static std::ffi::CStr {
        c"DigestState"
    }
}

fn finished() -> JsErrorBox {
    JsErrorBox::type_error("This DigestStream has already finished.")
}

#[op2]
#[cppgc]
pub fn op_brink_digest_create(#[string] algorithm: &str) -> Result<DigestState, JsErrorBox> {
    Ok(DigestState(RefCell::new(Some(Hasher::new(algorithm)?))))
}

#[op2]
pub fn op_brink_digest_update(#[cppgc] state: &DigestState, #[anybuffer] data: &[u8]) -> Result<(), JsErrorBox> {
    state.0.borrow_mut().as_mut().ok_or_else(finished)?.update(data);
    Ok(())
}

#[op2]
#[buffer]
pub fn op_brink_digest_finish(#[cppgc] state: &DigestState) -> Result<Vec<u8>, JsErrorBox> {
    let hasher = state.0.borrow_mut().take().ok_or_else(finished)?;
    Ok(hasher.finish())
}

fn decryption_failed() -> JsErrorBox {
    JsErrorBox::new(
        "DOMExceptionOperationError",
        "Decryption failed. This could be due to a ciphertext authentication failure, bad padding, incorrect CryptoKey, or another algorithm-specific reason.",
    )
}

/// Decrypts `data` (ciphertext, then a tag of `tag_bytes`) under AES-GCM.
///
/// A shorter tag is the leading bytes of the full one (NIST SP 800-38D), but
/// the `aes-gcm` crate verifies only full tags. So: GCM's keystream is its own
/// inverse, hence encrypting the ciphertext yields the plaintext; encrypting
/// that plaintext again gives back the ciphertext and its full tag, whose
/// leading bytes are compared with the given tag in constant time. No
/// plaintext is returned unless the tag matches.
fn decrypt_truncated<C, N>(key: &[u8], iv: &[u8], aad: &[u8], data: &[u8], tag_bytes: usize) -> Result<Vec<u8>, JsErrorBox>
where
    C: aes_gcm::aes::cipher::BlockCipher
        + aes_gcm::aes::cipher::BlockSizeUser<BlockSize = aes_gcm::aes::cipher::consts::U16>
        + aes_gcm::aes::cipher::BlockEncrypt
        + KeyInit,
    N: ArrayLength<u8>,
{
    let cipher = AesGcm::<C, N>::new_from_slice(key).map_err(|_| decryption_failed())?;
    let nonce: &Nonce<N> = GenericArray::from_slice(iv);
    let (ciphertext, tag) = data.split_at(data.len() - tag_bytes);
    let mut plaintext = ciphertext.to_vec();
    cipher
        .encrypt_in_place_detached(nonce, aad, &mut plaintext)
        .map_err(|_| decryption_failed())?;
    let mut again = plaintext.clone();
    let full_tag = cipher
        .encrypt_in_place_detached(nonce, aad, &mut again)
        .map_err(|_| decryption_failed())?;
    if bool::from(full_tag[..tag_bytes].ct_eq(tag)) {
        Ok(plaintext)
    } else {
        Err(decryption_failed())
    }
}

/// AES-GCM decryption for a `tagLength` of 32, 64, 96, 104, 112 or 120 bits
/// (deno_crypto decrypts only 128). `key` is the raw secret key; the JS side
/// has already checked the key's algorithm, usages and the tag length.
#[op2]
#[buffer]
pub fn op_brink_aes_gcm_decrypt(
    #[anybuffer] key: &[u8],
    #[anybuffer] iv: &[u8],
    #[anybuffer] additional_data: &[u8],
    tag_length: u32,
    #[anybuffer] data: &[u8],
) -> Result<Vec<u8>, JsErrorBox> {
    if !matches!(tag_length, 32 | 64 | 96 | 104 | 112 | 120 | 128) {
        return Err(JsErrorBox::new(
            "DOMExceptionOperationError",
            format!("Invalid AES-GCM tag length {tag_length}."),
        ));
    }
    let tag_bytes = tag_length as usize / 8;
    if data.len() < tag_bytes {
        return Err(JsErrorBox::new(
            "DOMExceptionOperationError",
            format!(
                "Ciphertext length of {} bits must be greater than or equal to the size of the AES-GCM tag length of {tag_length} bits.",
                data.len() * 8
            ),
        ));
    }
    macro_rules! with_nonce {
        ($cipher:ty) => {
            match iv.len() {
                12 => decrypt_truncated::<$cipher, U12>(key, iv, additional_data, data, tag_bytes),
                16 => decrypt_truncated::<$cipher, U16>(key, iv, additional_data, data, tag_bytes),
                _ => Err(JsErrorBox::new(
                    "DOMExceptionNotSupportedError",
                    "Initialization vector length not supported",
                )),
            }
        };
    }
    match key.len() {
        16 => with_nonce!(aes_gcm::aes::Aes128),
        24 => with_nonce!(aes_gcm::aes::Aes192),
        32 => with_nonce!(aes_gcm::aes::Aes256),
        _ => Err(decryption_failed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A truncated tag verifies exactly when it is the leading bytes of the
    /// full tag the `aes-gcm` crate computes.
    #[test]
    fn truncated_tags_verify_and_tampering_fails() {
        let key = [7u8; 16];
        let iv = [1u8; 12];
        let cipher = aes_gcm::Aes128Gcm::new_from_slice(&key).expect("key");
        let mut sealed = b"attack at dawn".to_vec();
        let tag = cipher
            .encrypt_in_place_detached(GenericArray::from_slice(&iv), b"aad", &mut sealed)
            .expect("encrypt");
        for tag_bytes in [4, 8, 12, 13, 14, 15, 16] {
            let mut data = sealed.clone();
            data.extend_from_slice(&tag[..tag_bytes]);
            let plain = decrypt_truncated::<aes_gcm::aes::Aes128, U12>(&key, &iv, b"aad", &data, tag_bytes).expect("verifies");
            assert_eq!(plain, b"attack at dawn");
            let last = data.len() - 1;
            data[last] ^= 1;
            assert!(decrypt_truncated::<aes_gcm::aes::Aes128, U12>(&key, &iv, b"aad", &data, tag_bytes).is_err());
            data[last] ^= 1;
            data[0] ^= 1;
            assert!(decrypt_truncated::<aes_gcm::aes::Aes128, U12>(&key, &iv, b"aad", &data, tag_bytes).is_err());
            assert!(decrypt_truncated::<aes_gcm::aes::Aes128, U12>(&key, &iv, b"other", &sealed_with(&sealed, &tag[..tag_bytes]), tag_bytes).is_err());
        }
    }

    fn sealed_with(ciphertext: &[u8], tag: &[u8]) -> Vec<u8> {
        [ciphertext, tag].concat()
    }

    #[test]
    fn md5_matches_the_rfc_1321_vectors() {
        let hex = |bytes: Vec<u8>| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let digest = |data: &[u8]| {
            let mut hasher = Hasher::new("MD5").expect("MD5");
            hasher.update(data);
            hex(hasher.finish())
        };
        assert_eq!(digest(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(digest(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert!(Hasher::new("MD4").is_err());
    }
}
