//! The hand-written declarations in `sys` against the C header: sizes and
//! field offsets of every struct (measured by compiling a C program against
//! include/modctx.h with `cc`), and the dlopen table against the linked functions.
use std::collections::BTreeMap;
use std::mem::{size_of, MaybeUninit};
use std::path::PathBuf;
use std::process::Command;

use modctx::sys;

macro_rules! offset {
    ($t:ty, $f:ident) => {{
        let u = MaybeUninit::<$t>::uninit();
        let base = u.as_ptr();
        // SAFETY: only the field's address is taken, nothing is read.
        (unsafe { std::ptr::addr_of!((*base).$f) } as usize) - base as usize
    }};
}

/// (name, value) rows, the same list on both sides.
macro_rules! rows {
    ($($t:ident { $($f:ident),* })*) => {{
        let mut rust = BTreeMap::new();
        let mut c = String::new();
        $(
            rust.insert(format!("sizeof {}", stringify!($t)), size_of::<sys::$t>());
            c.push_str(&format!("  printf(\"sizeof {}=%zu\\n\", sizeof({}));\n", stringify!($t), stringify!($t)));
            $(
                rust.insert(format!("{}.{}", stringify!($t), stringify!($f)), offset!(sys::$t, $f));
                c.push_str(&format!(
                    "  printf(\"{t}.{f}=%zu\\n\", offsetof({t}, {f}));\n",
                    t = stringify!($t),
                    f = stringify!($f)
                ));
            )*
        )*
        (rust, c)
    }};
}

#[test]
fn struct_layouts_match_the_header() {
    let (mut rust, mut body) = rows! {
        DLPackVersion { major, minor }
        DLDevice { device_type, device_id }
        DLDataType { code, bits, lanes }
        DLTensor { data, device, ndim, dtype, shape, strides, byte_offset }
        DLManagedTensor { dl_tensor, manager_ctx, deleter }
        DLManagedTensorVersioned { version, manager_ctx, deleter, flags, dl_tensor }
        modctx_slice { start, stop, step, flags }
        modctx_tensor_desc { struct_size, dtype, data, ndim, shape, strides, device_type, device_id, release, release_ctx }
        modctx_model {
            struct_size, arch, hidden_size, num_modalities, num_image_tokens, text_dtype, vocab_size, max_seq_len,
            cross_attention_blocks, modalities
        }
        modctx_forward_args {
            struct_size, present, has_tokens, tokens_ndim, tokens_shape, has_kv_caches, kv_seq_len, kv_capacity,
            kv_batch, kv_state_present
        }
        modctx_request { struct_size, kv_caches, tokens, doc_ids, kv_seq_len, kv_capacity, kv_batch }
        modctx_api {
            served_abi_version, struct_size, builder_new, builder_free, builder_set_dlpack, builder_set_dlpack_versioned,
            builder_clear, builder_set_output_slice, builder_build, context_free, context_has, context_get_dlpack,
            context_get_dlpack_versioned, context_get_output_slice, context_describe, check_forward, slice_indices,
            last_error, status_name, version, abi_version, builder_new_from_context, builder_set_tensor,
            context_retain, context_apply_output_slice, field_name, check_model, arch_name, compose,
            context_residual_length, context_compose_residual, context_save_safetensors, context_load_safetensors,
            context_load_safetensors_from_memory, status_class_of, check_request, model_from_config,
            model_from_config_string
        }
    };
    // The constants, both sides.
    macro_rules! constants {
        ($($name:ident),*) => {$(
            rust.insert(stringify!($name).to_string(), sys::$name as usize);
            body.push_str(&format!("  printf(\"{n}=%zu\\n\", (size_t)({n}));\n", n = stringify!($name)));
        )*};
    }
    constants!(
        MODCTX_ABI_VERSION, MODCTX_ERR_LENGTH, MODCTX_CLASS_OK, MODCTX_CLASS_REQUEST, MODCTX_CLASS_SERVER,
        MODCTX_CHECK_MODALITY_ID_VALUES, MODCTX_CHECK_TOKEN_ID_VALUES, MODCTX_KV_NONE, MODCTX_KV_GIVEN,
        MODCTX_KV_STATE, MODCTX_MODEL_SIZE_V1, MODCTX_FORWARD_ARGS_SIZE_V1, MODCTX_MAX_NDIM
    );
    let include = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../include");
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let src = out_dir.join("layout.c");
    let exe = out_dir.join("layout");
    let program = format!(
        "#include <stddef.h>\n#include <stdio.h>\n#include \"modctx.h\"\nint main(void) {{\n{}  return 0;\n}}\n",
        body
    );
    std::fs::write(&src, program).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let built = match Command::new(&cc).arg("-std=c99").arg("-I").arg(&include).arg(&src).arg("-o").arg(&exe).status() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("layout: skipped, no C compiler `{}`: {}", cc, e);
            return;
        }
    };
    assert!(built.success(), "compiling {} failed", src.display());
    let out = Command::new(&exe).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let c: BTreeMap<String, usize> = text
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect();
    assert_eq!(rust.len(), c.len());
    for (k, v) in &rust {
        assert_eq!(Some(v), c.get(k), "{}", k);
    }
    // Int-sized enums.
    assert_eq!(size_of::<sys::modctx_status>(), 4);
    assert_eq!(size_of::<sys::modctx_status_class>(), 4);
    assert_eq!(size_of::<sys::modctx_kv_caches>(), 4);
    // Version 2's fields start where version 1's struct ended.
    assert_eq!(offset!(sys::modctx_model, vocab_size), sys::MODCTX_MODEL_SIZE_V1);
    assert_eq!(offset!(sys::modctx_forward_args, kv_seq_len), sys::MODCTX_FORWARD_ARGS_SIZE_V1);
}

#[test]
fn the_dlopen_table_serves_every_function() {
    unsafe {
        let api = sys::modctx_get_api(sys::MODCTX_ABI_VERSION);
        assert!(!api.is_null());
        let api = &*api;
        assert!(api.served_abi_version >= 1);
        // Append-only: a newer library's table is larger, never smaller.
        assert!(api.struct_size as usize >= size_of::<sys::modctx_api>());
        macro_rules! same {
            ($($entry:ident => $func:ident),* $(,)?) => {
                $( assert_eq!(api.$entry.map(|f| f as usize), Some(sys::$func as *const () as usize), stringify!($entry)); )*
            };
        }
        same!(
            builder_new => modctx_builder_new,
            builder_free => modctx_builder_free,
            builder_set_dlpack => modctx_builder_set_dlpack,
            builder_set_dlpack_versioned => modctx_builder_set_dlpack_versioned,
            builder_clear => modctx_builder_clear,
            builder_set_output_slice => modctx_builder_set_output_slice,
            builder_build => modctx_builder_build,
            context_free => modctx_context_free,
            context_has => modctx_context_has,
            context_get_dlpack => modctx_context_get_dlpack,
            context_get_dlpack_versioned => modctx_context_get_dlpack_versioned,
            context_get_output_slice => modctx_context_get_output_slice,
            context_describe => modctx_context_describe,
            check_forward => modctx_check_forward,
            slice_indices => modctx_slice_indices,
            last_error => modctx_last_error,
            status_name => modctx_status_name,
            version => modctx_version,
            abi_version => modctx_abi_version,
            builder_new_from_context => modctx_builder_new_from_context,
            builder_set_tensor => modctx_builder_set_tensor,
            context_retain => modctx_context_retain,
            context_apply_output_slice => modctx_context_apply_output_slice,
            field_name => modctx_field_name,
            check_model => modctx_check_model,
            arch_name => modctx_arch_name,
            compose => modctx_compose,
            context_residual_length => modctx_context_residual_length,
            context_compose_residual => modctx_context_compose_residual,
            context_save_safetensors => modctx_context_save_safetensors,
            context_load_safetensors => modctx_context_load_safetensors,
            context_load_safetensors_from_memory => modctx_context_load_safetensors_from_memory,
            // ABI version 2
            status_class_of => modctx_status_class_of,
            check_request => modctx_check_request,
            model_from_config => modctx_model_from_config,
            model_from_config_string => modctx_model_from_config_string,
        );
        // Version 1's table is the prefix of the same table.
        assert_eq!(sys::modctx_get_api(1), api as *const sys::modctx_api);
        assert_eq!(api.served_abi_version, sys::MODCTX_ABI_VERSION);
        assert_eq!((api.status_class_of.unwrap())(sys::MODCTX_ERR_LENGTH), sys::MODCTX_CLASS_REQUEST);
        // Through the table, a call works like the direct one.
        let mut b = std::ptr::null_mut();
        assert_eq!((api.builder_new.unwrap())(&mut b), sys::MODCTX_OK);
        (api.builder_free.unwrap())(b);

        assert!(sys::modctx_get_api(0).is_null());
        assert!(sys::modctx_get_api(sys::modctx_abi_version() + 1).is_null());
        assert_eq!(sys::modctx_status_name(sys::MODCTX_ERR_UNSUPPORTED), sys::modctx_status_name(12));
        assert!(modctx::last_error().starts_with("modctx_get_api: ABI version"));
    }
}
