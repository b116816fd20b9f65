// AtomicFile: writing a file so that readers see the old content or the new, never a torn one. The
// bytes go to a temporary file in the destination's folder (same file system), are flushed with
// fsync, and the temporary file is renamed over the destination; on any error it is removed. Every
// file Verity writes into a model folder, checkpoint or run folder goes through here.
import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file that could not be written (the destination and the system's reason).
public struct FileWriteError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// The destination file.
    public var file: String
    /// Why.
    public var detail: String
    /// An error for `file`.
    public init(file: String, detail: String) {
        self.file = file
        self.detail = detail
    }
    /// `file: cannot write: detail`.
    public var description: String { "\(file): cannot write: \(detail)" }
    /// The same text as `description`.
    public var errorDescription: String? { description }
}

/// Atomic, streamed file writes.
public enum AtomicFile {
    /// A sink for the bytes of one file being written.
    public final class Output {
        let fd: Int32
        let path: String
        init(fd: Int32, path: String) { self.fd = fd; self.path = path }

        /// Appends `count` bytes of `bytes` (all by default).
        public func write(_ bytes: [UInt8], count: Int? = nil) throws {
            try bytes.withUnsafeBytes { try write(raw: $0, count: count ?? bytes.count) }
        }

        /// Appends `data`.
        public func write(_ data: Data) throws {
            try data.withUnsafeBytes { try write(raw: $0, count: data.count) }
        }

        func write(raw: UnsafeRawBufferPointer, count: Int) throws {
            guard let base = raw.baseAddress else { return }
            var done = 0
            while done < count {
                let n = Foundation.write(fd, base + done, count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileWriteError(file: path, detail: String(cString: strerror(errno)))
                }
                done += n
            }
        }
    }

    /// Writes the file at `url` through `body`, atomically (temporary file, fsync, rename).
    public static func write(to url: URL, _ body: (Output) throws -> Void) throws {
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw FileWriteError(file: url.path, detail: String(cString: strerror(errno))) }
        var closed = false
        do {
            try body(Output(fd: fd, path: url.path))
            guard fsync(fd) == 0 else { throw FileWriteError(file: url.path, detail: String(cString: strerror(errno))) }
            closed = true
            guard close(fd) == 0 else { throw FileWriteError(file: url.path, detail: String(cString: strerror(errno))) }
            guard rename(tmp, url.path) == 0 else {
                throw FileWriteError(file: url.path, detail: String(cString: strerror(errno)))
            }
        } catch {
            if !closed { close(fd) }
            unlink(tmp)
            throw error
        }
    }

    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(data) }
    }
}
