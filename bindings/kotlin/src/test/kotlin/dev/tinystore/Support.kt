package dev.tinystore

import java.io.BufferedReader
import java.io.File
import java.io.InputStreamReader
import java.util.concurrent.TimeUnit
import kotlin.test.fail

/** Polls [predicate] until true or [timeoutMs] passes. */
fun waitUntil(timeoutMs: Long = 10_000, predicate: () -> Boolean) {
    val deadline = System.currentTimeMillis() + timeoutMs
    while (System.currentTimeMillis() < deadline) {
        if (predicate()) return
        Thread.sleep(20)
    }
    if (!predicate()) fail("condition not reached in ${timeoutMs} ms")
}

/** A server child process that prints `PORT n` then `READY` and stops when stdin closes. */
class ServerProcess(command: List<String>, dir: File? = null) : AutoCloseable {
    private val process: Process = ProcessBuilder(command).directory(dir).redirectError(ProcessBuilder.Redirect.INHERIT).start()
    val port: Int

    init {
        val out = BufferedReader(InputStreamReader(process.inputStream))
        var p = -1
        while (true) {
            val line = out.readLine() ?: break
            if (line.startsWith("PORT ")) p = line.removePrefix("PORT ").trim().toInt()
            if (line.trim() == "READY") break
        }
        if (p < 0) {
            process.destroyForcibly()
            fail("server did not start: $command")
        }
        port = p
    }

    fun url(room: String) = "ws://127.0.0.1:$port/$room"

    override fun close() {
        process.outputStream.close()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
    }

    companion object {
        private fun prop(name: String) = System.getProperty(name) ?: fail("system property $name is not set")

        fun tinystore(vararg args: String): ServerProcess {
            val bin = File(prop("tinystore.bin"))
            if (!bin.canExecute()) fail("$bin is not built: cargo build --release -p tinystore-cli")
            return ServerProcess(listOf(bin.path, "serve", "--port", "0") + args)
        }

        fun tinybase(): ServerProcess {
            val kit = File(prop("tinystore.kit"))
            if (!File(kit, "node_modules/tinybase").isDirectory) fail("the TinyBase kit is not installed in $kit: make kit")
            return ServerProcess(listOf("node", File(kit, "peer.mjs").path, "serve", "--port", "0"), kit)
        }
    }
}
