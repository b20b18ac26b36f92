import CHDF5
import Foundation
import PetalCore

/// A read-only HDF5 file through libhdf5's C API: just what Keras files need (groups,
/// string attributes, numeric datasets read as Float32, child listing).
///
/// The serial libhdf5 is not thread-safe, so every call goes through one process-wide lock.
final class HDF5File {
    private static let lock = NSLock()
    private static let initialized: Bool = {
        H5open()
        H5Eset_auto2(0, nil, nil)  // errors come back as return codes; no printing to stderr
        return true
    }()

    let path: String
    private let id: hid_t
    /// The file's size: no attribute or dataset read from it may claim much more memory.
    private let fileSize: Int

    /// The 8-byte signature every HDF5 file starts with (at offset 0 for Keras files).
    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    init(_ url: URL) throws {
        path = url.path
        try checkIsFile(url)
        fileSize = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        let id = Self.locked { () -> hid_t in
            _ = Self.initialized
            return H5Fopen(url.path, 0 /* H5F_ACC_RDONLY */, 0 /* H5P_DEFAULT */)
        }
        guard id >= 0 else { throw WeightError.malformed(path: path, reason: "libhdf5 cannot open it as HDF5") }
        self.id = id
    }

    deinit { _ = Self.locked { H5Fclose(id) } }

    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    func bad(_ reason: String) -> WeightError { .malformed(path: path, reason: reason) }

    /// True when an object (group or dataset) exists at `objectPath` (each component checked).
    func exists(_ objectPath: String) -> Bool {
        Self.locked {
            var prefix = ""
            for component in objectPath.split(separator: "/") {
                prefix += prefix.isEmpty ? String(component) : "/\(component)"
                if H5Lexists(id, prefix, 0) <= 0 { return false }
            }
            return true
        }
    }

    /// The names of the children of a group, in libhdf5's (alphabetical) order.
    func children(of groupPath: String) throws -> [String] {
        try Self.locked {
            let group = H5Gopen2(id, groupPath, 0)
            guard group >= 0 else { throw bad("no group `\(groupPath)`") }
            defer { H5Gclose(group) }
            var info = H5G_info_t()
            guard H5Gget_info(group, &info) >= 0 else { throw bad("cannot list group `\(groupPath)`") }
            // Each link takes bytes in the file: a count beyond its size is corrupt metadata.
            guard info.nlinks <= UInt64(fileSize) else { throw bad("group `\(groupPath)` claims \(info.nlinks) members") }
            return try (0..<info.nlinks).map { i -> String in
                let size = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, 0)
                guard size >= 0, size <= fileSize else { throw bad("cannot read the name of member \(i) of group `\(groupPath)`") }
                var buffer = [CChar](repeating: 0, count: size + 1)
                guard H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, size + 1, 0) >= 0 else {
                    throw bad("cannot read the name of member \(i) of group `\(groupPath)`")
                }
                return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
    }

    func isDataset(_ objectPath: String) -> Bool {
        Self.locked {
            let d = H5Dopen2(id, objectPath, 0)
            if d >= 0 { H5Dclose(d) }
            return d >= 0
        }
    }

    /// A string-array attribute of an object. Keras splits long ones into `name0`, `name1`...;
    /// those are joined. Nil when absent; an empty non-string array (as Keras writes for a
    /// layer without weights) reads as [].
    func stringsAttribute(_ name: String, of objectPath: String = "/") throws -> [String]? {
        if let whole = try readStrings(name, objectPath) { return whole }
        var parts: [String] = []
        var chunk = 0
        while let part = try readStrings("\(name)\(chunk)", objectPath) {
            parts += part
            chunk += 1
        }
        return chunk > 0 ? parts : nil
    }

    func stringAttribute(_ name: String, of objectPath: String = "/") throws -> String? {
        try stringsAttribute(name, of: objectPath)?.joined()
    }

    private func readStrings(_ name: String, _ objectPath: String) throws -> [String]? {
        try Self.locked {
            guard H5Aexists_by_name(id, objectPath, name, 0) > 0 else { return nil }
            let attr = H5Aopen_by_name(id, objectPath, name, 0, 0)
            guard attr >= 0 else { throw bad("cannot open attribute `\(name)` of `\(objectPath)`") }
            defer { H5Aclose(attr) }
            let type = H5Aget_type(attr), space = H5Aget_space(attr)
            defer { H5Tclose(type); H5Sclose(space) }
            guard type >= 0, space >= 0 else { throw bad("cannot read the type of attribute `\(name)` of `\(objectPath)`") }
            let points = H5Sget_simple_extent_npoints(space)
            // Every element is stored in the file (a variable-length string takes at least 16 bytes).
            guard points >= 0, let count = Int(exactly: points), count <= fileSize else {
                throw bad("attribute `\(name)` of `\(objectPath)` claims \(points) elements")
            }
            if count == 0 { return [] }
            guard H5Tget_class(type) == H5T_STRING else {
                throw bad("attribute `\(name)` of `\(objectPath)` is not a string")
            }
            let memType = H5Tcopy(petal_H5T_C_S1())
            defer { H5Tclose(memType) }
            // libhdf5 converts no string between character sets: read in the stored one (h5py writes UTF-8).
            H5Tset_cset(memType, H5Tget_cset(type))
            if H5Tis_variable_str(type) > 0 {
                H5Tset_size(memType, -1 /* H5T_VARIABLE */)
                var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
                guard H5Aread(attr, memType, &pointers) >= 0 else { throw bad("cannot read attribute `\(name)` of `\(objectPath)`") }
                defer { for p in pointers where p != nil { H5free_memory(p) } }
                return pointers.map { $0.map { String(cString: $0) } ?? "" }
            }
            // One more byte than stored: a C string type keeps the last byte for the terminator.
            let stored = H5Tget_size(type)
            guard stored > 0, case let (bytes, false) = count.multipliedReportingOverflow(by: stored), bytes <= fileSize else {
                throw bad("attribute `\(name)` of `\(objectPath)` claims \(count) strings of \(stored) bytes")
            }
            let size = stored + 1
            H5Tset_size(memType, size)
            var buffer = [UInt8](repeating: 0, count: count * size)
            guard H5Aread(attr, memType, &buffer) >= 0 else { throw bad("cannot read attribute `\(name)` of `\(objectPath)`") }
            return (0..<count).map { i in
                let bytes = buffer[(i * size)..<((i + 1) * size)].prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
        }
    }

    /// The shape of a dataset (a scalar has shape []).
    func shape(of datasetPath: String) throws -> [Int] {
        try Self.locked {
            let d = H5Dopen2(id, datasetPath, 0)
            guard d >= 0 else { throw bad("no dataset `\(datasetPath)`") }
            defer { H5Dclose(d) }
            return try datasetShape(d, datasetPath)
        }
    }

    /// HDF5 allows rank 32; dimensions are unsigned 64-bit and checked to fit an Int.
    private func datasetShape(_ d: hid_t, _ datasetPath: String) throws -> [Int] {
        let space = H5Dget_space(d)
        guard space >= 0 else { throw bad("cannot read the shape of dataset `\(datasetPath)`") }
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard (0...32).contains(rank) else { throw bad("dataset `\(datasetPath)` has rank \(rank)") }
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        guard H5Sget_simple_extent_dims(space, &dims, nil) >= 0 else { throw bad("cannot read the shape of dataset `\(datasetPath)`") }
        return try dims.prefix(rank).map { dimension in
            guard let n = Int(exactly: dimension) else { throw bad("dataset `\(datasetPath)` has a dimension of \(dimension)") }
            return n
        }
    }

    /// A numeric dataset as a row-major Float32 tensor (libhdf5 converts the stored type).
    func readTensor(_ datasetPath: String, name: String) throws -> Tensor {
        try Self.locked {
            let d = H5Dopen2(id, datasetPath, 0)
            guard d >= 0 else { throw bad("no dataset `\(datasetPath)`") }
            defer { H5Dclose(d) }
            let type = H5Dget_type(d)
            let typeClass = H5Tget_class(type)
            H5Tclose(type)
            guard typeClass == H5T_FLOAT || typeClass == H5T_INTEGER else {
                throw WeightError.unsupportedDataType(path: path, tensor: name, dataType: "non-numeric HDF5 type")
            }
            let shape = try datasetShape(d, datasetPath)
            let count = try TensorBuilder.elementCount(shape, name: name, path: path)
            // Stored data may be compressed (at most about 1032:1 with deflate), so a dataset
            // cannot really hold much more than that many times the file's size.
            guard count / 1032 <= fileSize else {
                throw bad("dataset `\(datasetPath)` claims shape \(shape), far more than the file holds")
            }
            let tensor = try Tensor(layout: .rowMajor(try TensorBuilder.petalShape(shape, name: name, path: path)))
            if count > 0 {
                guard H5Dread(d, petal_H5T_NATIVE_FLOAT(), 0, 0, 0, tensor.storage.pointer) >= 0 else {
                    throw bad("cannot read dataset `\(datasetPath)` (corrupt or truncated file?)")
                }
            }
            return tensor
        }
    }
}
