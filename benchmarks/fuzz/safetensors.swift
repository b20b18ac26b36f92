import Foundation

/// The safetensors parser: header length, JSON header, offsets, shapes and element types.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    _ = try? SafetensorsFile.parse(bytes, path: "fuzz.safetensors")
    return 0
}
